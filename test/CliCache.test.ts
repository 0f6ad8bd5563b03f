/**
 * The AWS CLI's assumed-role cache (`src/internal/cliCache.ts`, used by
 * `AssumeRole.layerWith({ cache: "cli" })`): the key is the one Python computes (botocore's
 * `json.dumps(args, sort_keys=True)` then SHA-1), the file format round-trips in the CLI's
 * `...UTC` spelling and in ISO 8601, entries with less than 15 minutes left are ignored, corrupt
 * and foreign files are ignored, and an MFA role answered from the cache does not ask for a code.
 * The cross-process test (real processes, moto) is in test/services/sts.test.ts.
 */
import { assert, describe, it } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as TestClock from "effect/TestClock"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import * as CliCache from "../src/internal/cliCache.js"
import * as MfaTokenProvider from "../src/MfaTokenProvider.js"
import * as AssumeRole from "../src/providers/AssumeRole.js"
import { getSuccess, platformLayer, resolveWith, type TempHome, tempHome } from "./support/fixtures.js"
import { assertNoSecrets } from "./support/secrets.js"
import * as StsServer from "./support/stsServer.js"

const python = (() => {
  try {
    execFileSync("python3", ["-c", "import json, hashlib"], { stdio: "ignore", timeout: 30_000 })
    return { ok: true as const }
  } catch {
    return { ok: false as const, reason: "python3 is not installed (it computes the expected keys)" }
  }
})()
if (!python.ok && process.env.CI === "true") throw new Error(`CI=true but ${python.reason}`)

/** The key the AWS CLI / botocore compute for these AssumeRole arguments, computed by Python itself. */
const pythonKeys = (argsList: ReadonlyArray<Record<string, string | number>>): ReadonlyArray<string> =>
  execFileSync(
    "python3",
    [
      "-c",
      "import json,hashlib,sys\n" +
      "for args in json.loads(sys.argv[1]):\n" +
      "    print(hashlib.sha1(json.dumps(args, sort_keys=True).encode()).hexdigest())",
      JSON.stringify(argsList)
    ],
    { encoding: "utf8" }
  ).trim().split("\n")

const roleArn = "arn:aws:iam::111111111111:role/Cached"

const argsCases: ReadonlyArray<CliCache.AssumeRoleArgs> = [
  { RoleArn: roleArn },
  { RoleArn: roleArn, RoleSessionName: "me" },
  { RoleArn: roleArn, RoleSessionName: "me", ExternalId: "ext-123", SerialNumber: "arn:aws:iam::1:mfa/me" },
  { RoleArn: roleArn, DurationSeconds: 3600 },
  { RoleArn: roleArn, RoleSessionName: "a b", ExternalId: "quote\" backslash\\ slash/ tab\t nl\n", DurationSeconds: 900 },
  // Non-ASCII and control characters: Python escapes them (`ensure_ascii`), JSON.stringify does not.
  { RoleArn: roleArn, ExternalId: "caf\u00e9 \u00fc\u00df \u65e5\u672c \ud83d\ude00 \u007f \u0001 \u2028" },
  { RoleArn: "arn:aws-cn:iam::222222222222:role/path/to/Role", SerialNumber: "GAHT12345678" }
]

/** What `AssumeRole` hands the cache after a call. */
const sample = (expiresAt: number): CliCache.CachedCredentials => ({
  accessKeyId: "ASIACACHED0000000001",
  secretAccessKey: Redacted.make("cachedSecretKeyNeverPrinted0000000000001"),
  sessionToken: Redacted.make("cachedSessionTokenNeverPrinted000000001"),
  expiration: DateTime.unsafeMake(expiresAt),
  accountId: "111111111111",
  assumedRoleArn: "arn:aws:sts::111111111111:assumed-role/Cached/me"
})

const cacheDir = (home: TempHome) => CliCache.cacheDirectory(home.dir)

/** A cache file exactly as the AWS CLI writes it (the AssumeRole response, datetimes as `...UTC`). */
const cliFile = (expiration: string) =>
  JSON.stringify({
    Credentials: {
      AccessKeyId: "ASIAWRITTENBYTHECLI1",
      SecretAccessKey: "cliSecretKeyNeverPrinted000000000000001",
      SessionToken: "cliSessionTokenNeverPrinted0000000001",
      Expiration: expiration
    },
    AssumedRoleUser: {
      AssumedRoleId: "AROAEXAMPLE:botocore-session-1700000000",
      Arn: "arn:aws:sts::111111111111:assumed-role/Cached/botocore-session-1700000000"
    },
    ResponseMetadata: {
      RequestId: "d5f8a2c0-0000-4000-8000-000000000000",
      HTTPStatusCode: 200,
      HTTPHeaders: { "content-type": "text/xml" },
      RetryAttempts: 0
    }
  })

const read = (home: TempHome, key: string) => CliCache.read(cacheDir(home), key).pipe(Effect.provide(platformLayer))
const write = (home: TempHome, key: string, credentials: CliCache.CachedCredentials) =>
  CliCache.write(cacheDir(home), key, credentials).pipe(Effect.provide(platformLayer))

const utc = (millis: number) => `${new Date(millis).toISOString().slice(0, 19)}UTC`

describe.skipIf(!python.ok)(`CliCache: the key is the one Python computes${python.ok ? "" : ` (skipped: ${python.reason})`}`, () => {
  it("for every argument shape botocore keys by", () => {
    const flat = argsCases.map((args) =>
      Object.fromEntries(Object.entries(args).filter(([, value]) => value !== undefined)) as Record<string, string | number>
    )
    const expected = pythonKeys(flat)
    const ours = argsCases.map(CliCache.cacheKey)
    assert.deepStrictEqual(ours, expected)
    console.log(`cli cache keys: ${ours.filter((key, i) => key === expected[i]).length}/${argsCases.length} equal to Python's`)
  })

  it("absent fields are left out, not written as null", () => {
    assert.strictEqual(
      CliCache.cacheKey({ RoleArn: roleArn, RoleSessionName: undefined, ExternalId: undefined }),
      pythonKeys([{ RoleArn: roleArn }])[0]
    )
  })
})

describe("CliCache: the file", () => {
  it.scopedLive("round-trips: written atomically with mode 0600 in the CLI's `...UTC` spelling, read back whole", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const expiresAt = Math.floor(Date.now() / 1000) * 1000 + 3600_000
      yield* write(home, "round-trip", sample(expiresAt))
      const file = path.join(cacheDir(home), "round-trip.json")
      assert.deepStrictEqual(fs.readdirSync(cacheDir(home)), ["round-trip.json"])
      assert.strictEqual(fs.statSync(file).mode & 0o777, 0o600)
      const onDisk = JSON.parse(fs.readFileSync(file, "utf8"))
      assert.deepStrictEqual(onDisk, {
        Credentials: {
          AccessKeyId: "ASIACACHED0000000001",
          SecretAccessKey: "cachedSecretKeyNeverPrinted0000000000001",
          SessionToken: "cachedSessionTokenNeverPrinted000000001",
          Expiration: utc(expiresAt),
          AccountId: "111111111111"
        },
        AssumedRoleUser: { Arn: "arn:aws:sts::111111111111:assumed-role/Cached/me" }
      })
      const back = yield* read(home, "round-trip")
      assert.isTrue(Option.isSome(back))
      if (Option.isNone(back)) return
      assert.strictEqual(back.value.accessKeyId, "ASIACACHED0000000001")
      assert.strictEqual(Redacted.value(back.value.secretAccessKey), "cachedSecretKeyNeverPrinted0000000000001")
      assert.strictEqual(Redacted.value(back.value.sessionToken), "cachedSessionTokenNeverPrinted000000001")
      assert.strictEqual(DateTime.toEpochMillis(back.value.expiration), expiresAt)
      assert.strictEqual(back.value.accountId, "111111111111")
      assert.strictEqual(back.value.assumedRoleArn, "arn:aws:sts::111111111111:assumed-role/Cached/me")
      assertNoSecrets(back.value, ["cachedSecretKeyNeverPrinted0000000000001", "cachedSessionTokenNeverPrinted000000001"])
    }))

  it.scopedLive("reads the AWS CLI's own files: `...UTC`, ISO 8601 with Z, and with an offset", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const expiresAt = Math.floor(Date.now() / 1000) * 1000 + 2 * 3600_000
      const spellings = [
        utc(expiresAt),
        new Date(expiresAt).toISOString(),
        `${new Date(expiresAt).toISOString().slice(0, 19)}+00:00`
      ]
      for (const [index, spelling] of spellings.entries()) {
        home.write(path.join(".aws", "cli", "cache", `cli${index}.json`), cliFile(spelling))
        const back = yield* read(home, `cli${index}`)
        assert.isTrue(Option.isSome(back), spelling)
        if (Option.isNone(back)) continue
        assert.strictEqual(back.value.accessKeyId, "ASIAWRITTENBYTHECLI1")
        assert.strictEqual(DateTime.toEpochMillis(back.value.expiration), expiresAt, spelling)
        assert.strictEqual(back.value.accountId, undefined)
      }
    }))

  // `it.scoped` runs on the TestClock: the window is checked against the clock the library reads.
  it.scoped("entries with less than 15 minutes left are ignored; more than 15 are used", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const now = Date.UTC(2026, 10, 29, 12, 0, 0)
      yield* TestClock.setTime(now)
      for (const [minutes, used] of [[14, false], [14.99, false], [15.5, true], [16, true], [-5, false]] as const) {
        home.write(path.join(".aws", "cli", "cache", "window.json"), cliFile(utc(now + minutes * 60_000)))
        const back = yield* read(home, "window")
        assert.strictEqual(Option.isSome(back), used, `${minutes} minutes left`)
      }
    }))

  it.scopedLive("missing, corrupt, foreign or incomplete files are ignored, never an error", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const future = utc(Date.now() + 3600_000)
      const cases: ReadonlyArray<[string, string]> = [
        ["truncated", "{\"Credentials\": {\"AccessKeyId\": "],
        ["not-json", "garbage\n"],
        ["empty", ""],
        ["foreign", JSON.stringify({ startUrl: "https://x.awsapps.com/start", accessToken: "t", expiresAt: future })],
        ["no-token", JSON.stringify({ Credentials: { AccessKeyId: "A", SecretAccessKey: "s", Expiration: future } })],
        ["bad-date", JSON.stringify({ Credentials: { AccessKeyId: "A", SecretAccessKey: "s", SessionToken: "t", Expiration: "soon" } })],
        ["array", "[1, 2, 3]"]
      ]
      for (const [name, content] of cases) {
        home.write(path.join(".aws", "cli", "cache", `${name}.json`), content)
        assert.isTrue(Option.isNone(yield* read(home, name)), name)
      }
      assert.isTrue(Option.isNone(yield* read(home, "missing")))
      // A directory where the file should be.
      fs.mkdirSync(path.join(cacheDir(home), "dir.json"), { recursive: true })
      assert.isTrue(Option.isNone(yield* read(home, "dir")))
    }))

  it.scopedLive("a cache directory that cannot be written is not an error either", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      // A file where the cache directory should be.
      home.write(path.join(".aws", "cli", "cache"), "not a directory")
      yield* write(home, "k", sample(Date.now() + 3600_000))
      assert.strictEqual(fs.readFileSync(path.join(home.dir, ".aws", "cli", "cache"), "utf8"), "not a directory")
    }))
})

describe("CliCache: through AssumeRole", () => {
  const mfaSerial = "arn:aws:iam::111111111111:mfa/alice"
  const config = [
    "[profile dev]",
    `role_arn = ${roleArn}`,
    "source_profile = base",
    `mfa_serial = ${mfaSerial}`,
    "[profile base]",
    "aws_access_key_id = AKIABASE",
    "aws_secret_access_key = baseSecretKeyNeverPrinted0000000000001",
    ""
  ].join("\n")
  const cached = AssumeRole.layerWith({ cache: "cli", timeout: "5 seconds", maxAttempts: 1 })

  it.scopedLive("an MFA role: a miss asks for a code once and writes the CLI's file; a hit asks nothing and calls nothing", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const sts = yield* StsServer.make()
      home.writeConfig(config)
      const env = home.env({ AWS_PROFILE: "dev", AWS_REGION: "us-east-1", AWS_ENDPOINT_URL_STS: sts.url })
      let asked = 0
      const mfa = MfaTokenProvider.layer(() =>
        Effect.sync(() => {
          asked++
          return "123456"
        })
      )
      const first = getSuccess(yield* resolveWith(cached.pipe(Layer.provide(mfa)), { env }))
      assert.strictEqual(asked, 1)
      assert.strictEqual(sts.calls("AssumeRole").length, 1)
      assert.strictEqual(first.credentials.accessKeyId, sts.issued[0]!.accessKeyId)
      // The file is where the AWS CLI looks for this profile (key computed by Python when available).
      const key = python.ok
        ? pythonKeys([{ RoleArn: roleArn, SerialNumber: mfaSerial }])[0]!
        : CliCache.cacheKey({ RoleArn: roleArn, SerialNumber: mfaSerial })
      assert.deepStrictEqual(fs.readdirSync(cacheDir(home)), [`${key}.json`])

      // A new layer (another process, in effect): answered from the file, no code, no call.
      const second = getSuccess(yield* resolveWith(cached.pipe(Layer.provide(mfa)), { env }))
      assert.strictEqual(asked, 1, "the MfaTokenProvider was not asked again")
      assert.strictEqual(sts.calls("AssumeRole").length, 1)
      assert.strictEqual(second.credentials.accessKeyId, first.credentials.accessKeyId)
      assert.strictEqual(second.credentials.source, "assume-role")
      assert.deepStrictEqual(
        Option.map(second.credentials.expiration, DateTime.toEpochMillis),
        Option.map(first.credentials.expiration, DateTime.toEpochMillis)
      )

      // Without the cache option the file is not looked at: a code is asked for again.
      const uncached = AssumeRole.layerWith({ timeout: "5 seconds", maxAttempts: 1 })
      getSuccess(yield* resolveWith(uncached.pipe(Layer.provide(mfa)), { env }))
      assert.strictEqual(asked, 2)
      assert.strictEqual(sts.calls("AssumeRole").length, 2)
    }))

  it.scopedLive("a hit needs no MfaTokenProvider at all (a file the AWS CLI wrote after asking for the code)", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const sts = yield* StsServer.make()
      home.writeConfig(config)
      const key = CliCache.cacheKey({ RoleArn: roleArn, SerialNumber: mfaSerial })
      home.write(path.join(".aws", "cli", "cache", `${key}.json`), cliFile(utc(Date.now() + 3600_000)))
      const env = home.env({ AWS_PROFILE: "dev", AWS_REGION: "us-east-1", AWS_ENDPOINT_URL_STS: sts.url })
      const { credentials } = getSuccess(yield* resolveWith(cached, { env }))
      assert.strictEqual(credentials.accessKeyId, "ASIAWRITTENBYTHECLI1")
      assert.lengthOf(sts.requests, 0)
      assertNoSecrets(credentials, ["cliSecretKeyNeverPrinted000000000000001", "cliSessionTokenNeverPrinted0000000001"])
    }))

  it.scopedLive("an expiring cached entry (< 15 min) is replaced: a code is asked for and the file rewritten", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const sts = yield* StsServer.make()
      home.writeConfig(config)
      const key = CliCache.cacheKey({ RoleArn: roleArn, SerialNumber: mfaSerial })
      const file = home.write(path.join(".aws", "cli", "cache", `${key}.json`), cliFile(utc(Date.now() + 10 * 60_000)))
      const env = home.env({ AWS_PROFILE: "dev", AWS_REGION: "us-east-1", AWS_ENDPOINT_URL_STS: sts.url })
      let asked = 0
      const mfa = MfaTokenProvider.layer(() => Effect.sync(() => (asked++, "654321")))
      const { credentials } = getSuccess(yield* resolveWith(cached.pipe(Layer.provide(mfa)), { env }))
      assert.strictEqual(asked, 1)
      assert.strictEqual(credentials.accessKeyId, sts.issued[0]!.accessKeyId)
      const rewritten = JSON.parse(fs.readFileSync(file, "utf8")) as { Credentials: { AccessKeyId: string } }
      assert.strictEqual(rewritten.Credentials.AccessKeyId, sts.issued[0]!.accessKeyId)
    }))
})
