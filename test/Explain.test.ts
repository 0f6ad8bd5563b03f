/**
 * `explain`: the report for each outcome (in-process, through the same function the command
 * line calls) and the command line itself as a child process: one JSON object on stdout, the
 * exit statuses, `--help`, and no secret on stdout or stderr.
 */
import { assert, describe, expect, it } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as path from "node:path"
import { explain, type Explanation, formatHuman } from "../src/internal/explain.js"
import {
  type DefaultChainLink,
  defaultChainLinks,
  platformLayer,
  runTsx,
  type TempHome,
  tempHome,
  withEnv
} from "./support/fixtures.js"
import { metadataServer, servedSecrets } from "./support/metadataServer.js"

const secret = "explainSecretThatIsNeverShown/0000000WXYZ"
const token = "explainSessionTokenNeverShown000000000000001"

const run = (home: TempHome, env: Record<string, string>, options: { profile?: string; region?: string } = {}) =>
  explain({
    ...options,
    chain: { botoConfig: { defaultPaths: [path.join(home.dir, "boto.cfg")] }, process: { timeout: "5 seconds" } }
  }).pipe(withEnv(home.env(env)), Effect.provide(platformLayer))

const assertNoSecret = (explanation: Explanation) => {
  const rendered = JSON.stringify(explanation.report) +
    formatHuman(explanation, DateTime.unsafeMake(0))
  assert.notInclude(rendered, secret)
  assert.notInclude(rendered, token)
}

const reportKeys = (explanation: Explanation) => Object.keys(explanation.report).sort()

const links = defaultChainLinks

/** `[source, "unavailable"]` for the links before `link`. */
const unavailableBefore = (link: DefaultChainLink) =>
  links.slice(0, links.indexOf(link)).map((source) => [source, "unavailable"])

describe("explain (report)", () => {
  it.scoped("env credentials: masked secret, token present, expiration, account, attempts", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const explanation = yield* run(home, {
        AWS_ACCESS_KEY_ID: "AKIAEXPLAIN000000001",
        AWS_SECRET_ACCESS_KEY: secret,
        AWS_SESSION_TOKEN: token,
        AWS_CREDENTIAL_EXPIRATION: "2099-01-02T03:04:05Z",
        AWS_ACCOUNT_ID: "123456789012",
        AWS_REGION: "eu-west-3"
      })
      assert.strictEqual(explanation.exitCode, 0)
      assert.deepStrictEqual(reportKeys(explanation), ["attempts", "credentials", "ok", "profile", "region"])
      assert.deepStrictEqual(explanation.report.credentials, {
        source: "env",
        accessKeyId: "AKIAEXPLAIN000000001",
        secretAccessKey: "****************WXYZ",
        sessionToken: true,
        expiration: "2099-01-02T03:04:05Z",
        accountId: "123456789012",
        provenance: "environment variables AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN"
      })
      assert.deepStrictEqual(explanation.report.region, { name: "eu-west-3", source: "env AWS_REGION" })
      assert.deepStrictEqual(explanation.report.attempts.map((a) => [a.source, a.outcome]), [["env", "resolved"]])
      assert.isAtLeast(explanation.report.attempts[0]!.durationMs, 0)
      assertNoSecret(explanation)
    }))

  it.scoped("a profile file: region from the profile, skipped links listed with reasons", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      home.writeConfig("[profile dev]\nregion = ap-south-1\n")
      home.writeCredentials(`[dev]\naws_access_key_id = AKIAEXPLAIN000000002\naws_secret_access_key = ${secret}\n`)
      const explanation = yield* run(home, {}, { profile: "dev" })
      assert.strictEqual(explanation.exitCode, 0)
      assert.strictEqual(explanation.report.profile, "dev")
      assert.strictEqual(explanation.report.credentials?.source, "shared-credentials-file")
      assert.strictEqual(explanation.report.credentials?.sessionToken, false)
      assert.strictEqual(explanation.report.credentials?.expiration, null)
      assert.strictEqual(explanation.report.credentials?.accountId, null)
      assert.deepStrictEqual(explanation.report.region, { name: "ap-south-1", source: "profile dev" })
      assert.deepStrictEqual(explanation.report.attempts.map((a) => [a.source, a.outcome]), [
        ...unavailableBefore("shared-credentials-file"),
        ["shared-credentials-file", "resolved"]
      ])
      assert.include(explanation.report.attempts[0]!.reason, "named explicitly")
      const human = formatHuman(explanation, DateTime.unsafeMake(0))
      assert.include(human, "shared-credentials-file")
      assert.include(human, "****************WXYZ")
      assert.include(human, "ap-south-1 (profile dev")
      assertNoSecret(explanation)
    }))

  it.scoped("nothing configured: NoCredentialsFound, exit 1, every link with its reason", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const explanation = yield* run(home, {})
      assert.strictEqual(explanation.exitCode, 1)
      assert.deepStrictEqual(reportKeys(explanation), ["attempts", "error", "ok", "profile", "region"])
      assert.strictEqual(explanation.report.ok, false)
      assert.deepStrictEqual(explanation.report.error?._tag, "NoCredentialsFound")
      assert.deepStrictEqual(explanation.report.error?.reason, "NoCredentialsFound")
      assert.deepStrictEqual(
        explanation.report.attempts.map((a) => [a.source, a.outcome]),
        links.map((source) => [source, "unavailable"])
      )
      for (const attempt of explanation.report.attempts) assert.isNotEmpty(attempt.reason)
      assert.deepStrictEqual(explanation.report.region, { name: null, source: null })
    }))

  it.scoped("a broken source: CredentialsError, exit 2, source and reason, attempts up to it", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      home.writeCredentials("[default]\naws_access_key_id = AKIAEXPLAIN000000003\n")
      home.writeConfig(`[default]\naws_access_key_id = AKIAOTHER\naws_secret_access_key = ${secret}\n`)
      const explanation = yield* run(home, {})
      assert.strictEqual(explanation.exitCode, 2)
      assert.deepStrictEqual(explanation.report.error && {
        _tag: explanation.report.error._tag,
        source: explanation.report.error.source,
        reason: explanation.report.error.reason
      }, { _tag: "CredentialsError", source: "shared-credentials-file", reason: "PartialCredentials" })
      assert.include(explanation.report.error?.message, home.credentialsPath)
      assert.deepStrictEqual(explanation.report.attempts.map((a) => [a.source, a.outcome]), [
        ...unavailableBefore("shared-credentials-file"),
        ["shared-credentials-file", "failed"]
      ])
      assertNoSecret(explanation)
    }))

  it.scoped("a missing profile: ProfileNotFound, exit 2, no attempts, region from the environment", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      home.writeCredentials(`[default]\naws_access_key_id = AKIAEXPLAIN000000004\naws_secret_access_key = ${secret}\n`)
      const explanation = yield* run(home, { AWS_PROFILE: "nope", AWS_DEFAULT_REGION: "us-west-1" })
      assert.strictEqual(explanation.exitCode, 2)
      assert.strictEqual(explanation.report.profile, "nope")
      assert.strictEqual(explanation.report.error?.reason, "ProfileNotFound")
      assert.include(explanation.report.error?.message, "profiles defined: default")
      assert.deepStrictEqual(explanation.report.attempts, [])
      assert.deepStrictEqual(explanation.report.region, { name: "us-west-1", source: "env AWS_DEFAULT_REGION" })
    }))

  it.scopedLive("instance metadata: iam-role credentials and the region from imds, no served secret shown", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const server = yield* metadataServer({ region: "ap-northeast-3" })
      const explanation = yield* run(home, {
        AWS_EC2_METADATA_DISABLED: "false",
        AWS_EC2_METADATA_SERVICE_ENDPOINT: server.url
      })
      assert.strictEqual(explanation.exitCode, 0)
      const served = server.served.at(-1)!
      assert.deepStrictEqual(explanation.report.credentials && {
        source: explanation.report.credentials.source,
        accessKeyId: explanation.report.credentials.accessKeyId,
        sessionToken: explanation.report.credentials.sessionToken,
        expiration: explanation.report.credentials.expiration
      }, { source: "iam-role", accessKeyId: served.AccessKeyId, sessionToken: true, expiration: served.Expiration })
      assert.deepStrictEqual(explanation.report.region, { name: "ap-northeast-3", source: "imds" })
      assert.deepStrictEqual(explanation.report.attempts.map((a) => [a.source, a.outcome]), [
        ...unavailableBefore("iam-role"),
        ["iam-role", "resolved"]
      ])
      const rendered = JSON.stringify(explanation.report) + formatHuman(explanation, DateTime.unsafeMake(0))
      for (const secretValue of servedSecrets(server)) assert.notInclude(rendered, secretValue)
    }))

  it.scoped("--region wins and is labelled explicit", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const explanation = yield* run(home, { AWS_REGION: "eu-west-1" }, { region: "sa-east-1" })
      assert.deepStrictEqual(explanation.report.region, { name: "sa-east-1", source: "explicit" })
    }))
})

// The command line as a user runs it. Each run starts tsx (about a second), so only the
// outcomes that exercise the process boundary are here; the report logic is covered above.
const cli = (args: ReadonlyArray<string>, env: Record<string, string>) => runTsx("src/bin.ts", args, env)

describe("explain (command line)", () => {
  it.scoped("exit statuses 0, 1 and 2; stdout is exactly one JSON object; no secret anywhere", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const boto = path.join(home.dir, "no-boto.cfg")
      const [ok, none, broken] = yield* Effect.promise(() =>
        Promise.all([
          cli(["explain", "--json"], {
            HOME: home.dir,
            BOTO_CONFIG: boto,
            AWS_ACCESS_KEY_ID: "AKIACLI0000000000001",
            AWS_SECRET_ACCESS_KEY: secret,
            AWS_SESSION_TOKEN: token
          }),
          cli(["explain", "--json"], { HOME: home.dir, BOTO_CONFIG: boto }),
          cli(["explain", "--json"], { HOME: home.dir, BOTO_CONFIG: boto, AWS_ACCESS_KEY_ID: "AKIACLI0000000000002" })
        ])
      )
      for (const [result, status] of [[ok, 0], [none, 1], [broken, 2]] as const) {
        expect(result.status, result.stderr).toBe(status)
        const parsed = JSON.parse(result.stdout) as { ok: boolean }
        expect(typeof parsed).toBe("object")
        expect(parsed.ok).toBe(status === 0)
        expect(result.stdout + result.stderr).not.toContain(secret)
        expect(result.stdout + result.stderr).not.toContain(token)
      }
      expect(JSON.parse(ok.stdout)).toMatchObject({
        credentials: { source: "env", accessKeyId: "AKIACLI0000000000001", sessionToken: true }
      })
      expect(JSON.parse(broken.stdout)).toMatchObject({
        error: { _tag: "CredentialsError", source: "env", reason: "PartialCredentials" }
      })
    }), { timeout: 60_000 })

  it.scoped("each local source, working and broken: the right source and status, no secret on stdout or stderr", () =>
    Effect.gen(function*() {
      const keys = `aws_access_key_id = AKIACLIFILE000000001\naws_secret_access_key = ${secret}\naws_session_token = ${token}\n`
      const processJson = JSON.stringify({ Version: 1, AccessKeyId: "AKIACLIPROC000000001", SecretAccessKey: secret, SessionToken: token })
      // The last field: the source the report names (none when the files themselves are broken).
      type Scenario = readonly [string, (home: TempHome) => Record<string, string>, number, string | undefined]
      const scenarios: ReadonlyArray<Scenario> = [
        ["shared-credentials-file", (home) => (home.writeCredentials(`[default]\n${keys}`), {}), 0, "shared-credentials-file"],
        ["config-file", (home) => (home.writeConfig(`[default]\n${keys}`), {}), 0, "config-file"],
        ["custom-process", (home) => {
          const script = home.script("process.sh", `printf '%s' '${processJson}'`)
          home.writeConfig(`[default]\ncredential_process = ${script}\n`)
          return {}
        }, 0, "custom-process"],
        ["custom-process failing with the secret on stdout", (home) => {
          const script = home.script("process.sh", `printf '%s' '${processJson}'\necho 'locked' >&2\nexit 4`)
          home.writeConfig(`[default]\ncredential_process = ${script}\n`)
          return {}
        }, 2, "custom-process"],
        ["ec2-credentials-file", (home) => {
          home.write("ec2.cred", `AWSAccessKeyId=AKIACLIEC2000000001\nAWSSecretKey=${secret}\n`)
          return { AWS_CREDENTIAL_FILE: path.join(home.dir, "ec2.cred") }
        }, 0, "ec2-credentials-file"],
        ["boto-config", (home) => {
          home.write("boto.cfg", `[Credentials]\naws_access_key_id = AKIACLIBOTO00000001\naws_secret_access_key = ${secret}\n`)
          return {}
        }, 0, "boto-config"],
        ["a malformed credentials file with the secret on the bad line", (home) => {
          home.writeCredentials(`[default]\naws_access_key_id = AKIACLIFILE000000001\naws_secret_access_key ${secret}\n`)
          return {}
        }, 2, undefined]
      ]
      const homes = yield* Effect.forEach(scenarios, () => tempHome)
      const results = yield* Effect.promise(() =>
        Promise.all(scenarios.map(([, setup], i) => {
          const home = homes[i]!
          const env = setup(home)
          return cli(["explain", "--json"], { HOME: home.dir, BOTO_CONFIG: path.join(home.dir, "boto.cfg"), ...env })
        }))
      )
      scenarios.forEach(([name, , status, source], i) => {
        const result = results[i]!
        expect(result.status, `${name}: ${result.stderr}`).toBe(status)
        const parsed = JSON.parse(result.stdout) as {
          ok: boolean
          credentials?: { source: string }
          error?: { source?: string; message: string }
        }
        expect(parsed.ok, name).toBe(status === 0)
        expect(status === 0 ? parsed.credentials?.source : parsed.error?.source, name).toBe(source)
        expect(result.stdout + result.stderr, name).not.toContain(secret)
        expect(result.stdout + result.stderr, name).not.toContain(token)
      })
      expect(JSON.parse(results[6]!.stdout).error).toMatchObject({ reason: "MalformedFile" })
      // The failing process's message has its exit code and stderr, not its stdout.
      expect(JSON.parse(results[3]!.stdout).error.message).toContain("exited with code 4: locked")
    }), { timeout: 120_000 })

  // Log lines go to stderr only (runMain's pretty logger is off): the JSON contract holds.
  it("a warning logged while resolving goes to stderr; stdout stays exactly one JSON object", async () => {
    await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
      const home = yield* tempHome
      // A hop limit too low: the token PUT never answers, IMDSv1 does; the source logs a warning.
      const server = yield* metadataServer()
      server.fault("token", { _tag: "Hang" })
      const result = yield* Effect.promise(() =>
        cli(["explain", "--json"], {
          HOME: home.dir,
          BOTO_CONFIG: path.join(home.dir, "no-boto.cfg"),
          AWS_EC2_METADATA_DISABLED: "false",
          AWS_EC2_METADATA_SERVICE_ENDPOINT: server.url,
          AWS_METADATA_SERVICE_TIMEOUT: "0.3",
          AWS_DEFAULT_REGION: "us-east-1"
        })
      )
      expect(result.status, result.stderr).toBe(0)
      expect(result.stderr).toContain("hop limit")
      expect(JSON.parse(result.stdout)).toMatchObject({ ok: true, credentials: { source: "iam-role" } })
      expect(result.stderr.split("\n")).not.toContain("undefined")
    })))
  }, 60_000)

  it.effect("--help documents the options and the environment variables", () =>
    Effect.gen(function*() {
      const result = yield* Effect.promise(() => cli(["explain", "--help"], {}))
      expect(result.status).toBe(0)
      for (
        const name of [
          "--profile",
          "--region",
          "--json",
          "AWS_PROFILE",
          "AWS_DEFAULT_PROFILE",
          "AWS_CONFIG_FILE",
          "AWS_SHARED_CREDENTIALS_FILE",
          "AWS_ACCESS_KEY_ID",
          "AWS_SESSION_TOKEN",
          "AWS_CREDENTIAL_EXPIRATION",
          "AWS_CREDENTIAL_FILE",
          "BOTO_CONFIG",
          "AWS_REGION",
          "AWS_DEFAULT_REGION"
        ]
      ) {
        expect(result.stdout).toContain(name)
      }
    }), { timeout: 60_000 })
})
