import { assert, describe, it } from "@effect/vitest"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import * as TokenCache from "../src/internal/tokenCache.js"
import { getFailure, getSuccess, tempHome, withEnv } from "./support/fixtures.js"

const context = {
  source: "sso",
  profile: "dev",
  what: "SSO token cache file",
  fix: "aws sso login --profile dev"
} as const

/** A process that reads `file` in a tight loop for `ms` and reports what it saw. */
const reader = (file: string, ms: number) =>
  Effect.async<{ readonly ok: number; readonly broken: number; readonly versions: number }>((resume) => {
    const script = `
      const fs = require("node:fs")
      const end = Date.now() + ${ms}
      let ok = 0, broken = 0
      const versions = new Set()
      while (Date.now() < end) {
        let text
        try { text = fs.readFileSync(process.argv[1], "utf8") } catch { continue }
        try { versions.add(JSON.parse(text).version); ok++ } catch { broken++ }
      }
      process.stdout.write(JSON.stringify({ ok, broken, versions: versions.size }))
    `
    const child = spawn(process.execPath, ["-e", script, file], { stdio: ["ignore", "pipe", "inherit"] })
    let out = ""
    child.stdout.on("data", (chunk) => (out += chunk))
    child.on("close", () => resume(Effect.succeed(JSON.parse(out))))
  })

describe("TokenCache.writeAtomic", () => {
  it.scopedLive("replaces the file whole: mode 0600, no temporary file left, parent created 0700", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const file = path.join(home.dir, ".aws", "sso", "cache", "x.json")
      yield* TokenCache.writeAtomic(file, { accessToken: "a", n: 1 }).pipe(Effect.provide(NodeFileSystem.layer))
      assert.deepStrictEqual(JSON.parse(fs.readFileSync(file, "utf8")), { accessToken: "a", n: 1 })
      assert.strictEqual(fs.statSync(file).mode & 0o777, 0o600)
      assert.strictEqual(fs.statSync(path.dirname(file)).mode & 0o777, 0o700)
      fs.chmodSync(file, 0o644)
      yield* TokenCache.writeAtomic(file, { accessToken: "b", n: 2 }).pipe(Effect.provide(NodeFileSystem.layer))
      assert.deepStrictEqual(JSON.parse(fs.readFileSync(file, "utf8")), { accessToken: "b", n: 2 })
      assert.strictEqual(fs.statSync(file).mode & 0o777, 0o600)
      assert.deepStrictEqual(fs.readdirSync(path.dirname(file)), ["x.json"])
    }))

  it.scopedLive("a process reading the file meanwhile never sees a partial file", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const file = home.write("token.json", JSON.stringify({ version: 0 }))
      const padding = "x".repeat(256 * 1024)
      const watching = yield* Effect.fork(reader(file, 1500))
      yield* Effect.sleep("100 millis")
      let version = 0
      const until = Date.now() + 1200
      while (Date.now() < until) {
        version++
        yield* TokenCache.writeAtomic(file, { version, padding }).pipe(Effect.provide(NodeFileSystem.layer))
      }
      const seen = yield* Fiber.join(watching)
      assert.strictEqual(seen.broken, 0)
      assert.isAbove(seen.ok, 10)
      assert.isAbove(seen.versions, 2, `the reader saw writes happen (${version} writes)`)
      assert.deepStrictEqual(fs.readdirSync(home.dir).filter((name) => name.endsWith(".tmp")), [])
    }))

  it.scopedLive("a failed write leaves the file as it was and no temporary file", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      // A directory where the file should be: the rename fails.
      const file = path.join(home.dir, "cache", "x.json")
      fs.mkdirSync(file, { recursive: true })
      const exit = yield* TokenCache.writeAtomic(file, { a: 1 }).pipe(Effect.provide(NodeFileSystem.layer), Effect.exit)
      const error = getFailure(exit)
      assert.strictEqual(error._tag, "WriteFailed")
      assert.include(error.message, file)
      assert.isTrue(fs.statSync(file).isDirectory())
      assert.deepStrictEqual(fs.readdirSync(path.dirname(file)), ["x.json"])
    }))
})

describe("TokenCache.read", () => {
  it.scopedLive("decodes, keeps unknown fields, and treats a missing file as none", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const token = { accessToken: "a", expiresAt: "2030-01-01T00:00:00UTC", extra: [1] }
      const file = home.write("t.json", `\uFEFF${JSON.stringify(token)}`)
      const entry = getSuccess(
        yield* TokenCache.read(file, TokenCache.SsoToken, context).pipe(
          Effect.provide(NodeFileSystem.layer),
          Effect.exit
        )
      )
      assert.isTrue(Option.isSome(entry))
      if (Option.isSome(entry)) {
        assert.strictEqual(entry.value.value.accessToken, "a")
        assert.deepStrictEqual(entry.value.raw.extra, [1])
        // botocore's older "UTC" spelling.
        assert.isTrue(Option.isSome(TokenCache.parseCacheTimestamp(entry.value.value.expiresAt)))
      }
      const none = getSuccess(
        yield* TokenCache.read(path.join(home.dir, "absent.json"), Schema.Unknown, context).pipe(
          Effect.provide(NodeFileSystem.layer),
          Effect.exit
        )
      )
      assert.isTrue(Option.isNone(none))
    }))

  it.effect("formats expiries as botocore does and finds the login cache directory", () =>
    Effect.gen(function*() {
      assert.strictEqual(
        TokenCache.formatCacheTimestamp(Date.parse("2025-11-19T00:15:00.123Z")),
        "2025-11-19T00:15:00Z"
      )
      assert.strictEqual(
        TokenCache.loginCacheKey("arn:aws:sts::012345678910:assumed-role/Admin/admin"),
        "4b0ba8f99f075c0633e122fd73346ce203a3faf18ea0310eb2d29df1bab2e255"
      )
      assert.strictEqual(yield* TokenCache.loginCacheDirectory("/home/me"), "/home/me/.aws/login/cache")
      assert.strictEqual(
        yield* TokenCache.loginCacheDirectory("/home/me").pipe(withEnv({ AWS_LOGIN_CACHE_DIRECTORY: "~/elsewhere" })),
        "/home/me/elsewhere"
      )
    }))
})
