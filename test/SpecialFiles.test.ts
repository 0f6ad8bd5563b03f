/**
 * Special files in place of every file the chain reads (issue 10, defects 2, 3 and 8): a FIFO,
 * `/dev/zero`, a directory, a symbolic link to nothing, a loop of symbolic links, a file over
 * its cap, a pseudo-file that says it is empty and never ends (`/proc/self/pagemap`), invalid
 * UTF-8. Each is a typed error naming the path and what is wrong, found without reading (no
 * hang, no memory growth), and the process ends by itself afterwards.
 *
 * The runs happen in a child process (`support/programs/resolve-each.ts`), one per file variable,
 * through `CredentialChain.layerNode()` inside the app's own timeout, as an application would.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { execFileSync, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { maxFileBytes } from "../src/internal/files.js"
import { makeTempHome, repoRoot, type TempHome } from "./support/fixtures.js"

interface Outcome {
  readonly _tag: string
  readonly reason?: string
  readonly message?: string
  readonly source?: string
  readonly ms: number
  readonly rssMiB: number
}

/** Runs the program on `envs`; fails if it does not end by itself within `limitMs`. */
const resolveEach = (envs: ReadonlyArray<Record<string, string>>, limitMs = 60_000) =>
  Effect.async<{ readonly outcomes: ReadonlyArray<Outcome>; readonly exited: boolean; readonly stderr: string }>(
    (resume) => {
      const child = spawn(
        path.join(repoRoot, "node_modules", ".bin", "tsx"),
        [path.join(repoRoot, "test", "support", "programs", "resolve-each.ts")],
        { env: { PATH: process.env.PATH, AWS_EC2_METADATA_DISABLED: "true" }, stdio: ["pipe", "pipe", "pipe"] }
      )
      let stdout = ""
      let stderr = ""
      child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString("utf8")))
      child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")))
      const killer = setTimeout(() => child.kill("SIGKILL"), limitMs)
      child.on("close", (code, signal) => {
        clearTimeout(killer)
        const outcomes = stdout.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as Outcome)
        resume(Effect.succeed({ outcomes, exited: signal === null && code === 0, stderr }))
      })
      child.stdin.end(JSON.stringify(envs))
      return Effect.sync(() => child.kill("SIGKILL"))
    }
  )

type Kind = "fifo" | "device" | "directory" | "dangling" | "loop" | "oversized" | "endless" | "invalid-utf8"

/** Puts a special file of `kind` at `file`; what the error must say. */
const plant = (home: TempHome, file: string, kind: Kind, cap: number): RegExp => {
  fs.mkdirSync(path.dirname(file), { recursive: true })
  fs.rmSync(file, { recursive: true, force: true })
  switch (kind) {
    case "fifo":
      execFileSync("mkfifo", [file])
      return /FIFO/
    case "device":
      fs.symlinkSync("/dev/zero", file)
      return /character device/
    case "directory":
      fs.mkdirSync(file)
      return /directory/
    case "dangling":
      fs.symlinkSync(path.join(home.dir, "nowhere"), file)
      return /symbolic link to .*nowhere, which does not exist/
    case "loop":
      fs.symlinkSync(`${file}.b`, file)
      fs.rmSync(`${file}.b`, { force: true })
      fs.symlinkSync(file, `${file}.b`)
      return /symbolic links|ELOOP/i
    case "oversized": {
      // Sparse: the size is there, the bytes are not (nothing close to it is read).
      const fd = fs.openSync(file, "w")
      fs.ftruncateSync(fd, cap + 1)
      fs.closeSync(fd)
      return /over the .* MiB/
    }
    case "endless":
      // A regular file that says it is empty and reads on for terabytes (the process's page map).
      fs.symlinkSync("/proc/self/pagemap", file)
      return /does not say its size|cannot read/
    case "invalid-utf8":
      fs.writeFileSync(file, Buffer.from([0x5b, 0x64, 0x65, 0x66, 0x61, 0x75, 0x6c, 0x74, 0x5d, 0x0a, 0x61, 0x3d, 0xff, 0xfe, 0x0a]))
      return /not valid UTF-8 \(line 2\)/
  }
}

interface Variable {
  readonly name: string
  /** The environment that makes the chain read `file`. */
  readonly env: (home: TempHome, file: string) => Record<string, string>
  readonly cap: number
  /** The kinds whose outcome is an error (a FIFO as a token file is one too). */
  readonly kinds: ReadonlyArray<Kind>
}

const all: ReadonlyArray<Kind> = ["fifo", "device", "directory", "dangling", "loop", "oversized", "endless", "invalid-utf8"]

const variables: ReadonlyArray<Variable> = [
  { name: "~/.aws/credentials", env: (home) => home.env(), cap: maxFileBytes.config, kinds: all },
  { name: "AWS_SHARED_CREDENTIALS_FILE", env: (home, file) => home.env({ AWS_SHARED_CREDENTIALS_FILE: file }), cap: maxFileBytes.config, kinds: all },
  { name: "AWS_CONFIG_FILE", env: (home, file) => home.env({ AWS_CONFIG_FILE: file }), cap: maxFileBytes.config, kinds: all },
  { name: "AWS_CREDENTIAL_FILE", env: (home, file) => home.env({ AWS_CREDENTIAL_FILE: file }), cap: maxFileBytes.config, kinds: all },
  { name: "BOTO_CONFIG", env: (home, file) => home.env({ BOTO_CONFIG: file }), cap: maxFileBytes.config, kinds: all },
  {
    name: "AWS_WEB_IDENTITY_TOKEN_FILE",
    env: (home, file) =>
      home.env({
        AWS_WEB_IDENTITY_TOKEN_FILE: file,
        AWS_ROLE_ARN: "arn:aws:iam::123456789012:role/special",
        AWS_REGION: "us-east-1",
        AWS_ENDPOINT_URL_STS: "http://127.0.0.1:9"
      }),
    cap: maxFileBytes.token,
    kinds: all
  },
  {
    name: "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
    env: (home, file) =>
      home.env({
        AWS_CONTAINER_CREDENTIALS_FULL_URI: "http://127.0.0.1:9/creds",
        AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: file
      }),
    cap: maxFileBytes.token,
    kinds: all
  }
]

describe("special files in place of every file the chain reads", () => {
  for (const variable of variables) {
    it.live(`${variable.name}: ${variable.kinds.join(", ")}: typed errors, no hang, bounded memory, the process ends`, () =>
      Effect.gen(function*() {
        const homes: Array<TempHome> = []
        const expected: Array<readonly [Kind, RegExp, string]> = []
        const envs = variable.kinds.map((kind) => {
          const home = makeTempHome()
          homes.push(home)
          const file = variable.name === "~/.aws/credentials" ? home.credentialsPath : path.join(home.dir, "special", "file")
          expected.push([kind, plant(home, file, kind, variable.cap), file])
          return variable.env(home, file)
        })
        const run = yield* resolveEach(envs).pipe(Effect.ensuring(Effect.sync(() => homes.forEach((h) => h.remove()))))
        assert.isTrue(run.exited, `the program did not end by itself; stderr: ${run.stderr}`)
        assert.strictEqual(run.outcomes.length, envs.length, run.stderr)
        run.outcomes.forEach((outcome, i) => {
          const [kind, message, file] = expected[i]!
          const label = `${variable.name} as ${kind}: ${JSON.stringify(outcome)}`
          assert.strictEqual(outcome._tag, "CredentialsError", label)
          assert.strictEqual(outcome.reason, kind === "invalid-utf8" ? "MalformedFile" : "FileUnreadable", label)
          assert.match(outcome.message ?? "", message, label)
          assert.include(outcome.message ?? "", file, label)
          // Found without reading: well under the app's 10 s timeout, and no memory to speak of.
          assert.isBelow(outcome.ms, 5_000, label)
          assert.isBelow(outcome.rssMiB, 400, label)
        })
      }), { timeout: 120_000 })
  }
})
