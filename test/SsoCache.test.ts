/**
 * The AWS CLI cache for IAM Identity Center role credentials (`Sso.layerWith({ cache: "cli" })`,
 * `src/internal/cliCache.ts`): the key is the one botocore's own `SSOCredentialFetcher` computes
 * (legacy and `sso_session` profiles), a hit calls nothing (no portal, no token), a miss writes the
 * file the CLI v2 writes (`ProviderType: "sso"`, `...Z` expiration, mode 0600, directory 0700),
 * and botocore's fetcher reads our file, with a client that fails if it is ever created, while we
 * read the file its fetcher writes. Corrupt, foreign, expiring and expired entries are ignored and
 * replaced; secrets never reach the logs.
 */
import { assert, describe, it } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import { execFileSync } from "node:child_process"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import * as CliCache from "../src/internal/cliCache.js"
import * as Sso from "../src/providers/SsoCredentials.js"
import {
  defaultChain,
  type Env,
  getSuccess,
  outcomes,
  resolveWith,
  type TempHome,
  tempHome,
  withCapturedLogs
} from "./support/fixtures.js"
import { assertNoSecrets } from "./support/secrets.js"
import * as SsoServer from "./support/ssoServer.js"

const botocore = (() => {
  try {
    execFileSync("python3", ["-c", "import botocore.credentials"], { stdio: "ignore", timeout: 30_000 })
    return { ok: true as const }
  } catch {
    return { ok: false as const, reason: "python3 cannot import botocore (its fetcher is the oracle)" }
  }
})()
if (!botocore.ok && process.env.CI === "true") throw new Error(`CI=true but ${botocore.reason}`)
const skipped = botocore.ok ? "" : ` (skipped: ${botocore.reason})`

/**
 * botocore's `SSOCredentialFetcher` driven offline: `keys` prints `_create_cache_key()` per
 * argument set; `read` fetches through a `JSONFileCache` with a client creator that fails if
 * called (so the answer must come from the file); `write` fetches through a stub client (no
 * network) so that botocore writes the file itself.
 */
const oracle = `
import json, sys
from botocore.credentials import JSONFileCache, SSOCredentialFetcher

def no_client(*args, **kwargs):
    raise AssertionError("botocore created an SSO client: the cache was not used")

class StubClient:
    class exceptions:
        class UnauthorizedException(Exception):
            pass
    def __init__(self, answer):
        self.answer = answer
    def get_role_credentials(self, **kwargs):
        return {"roleCredentials": self.answer}

class StubTokenProvider:
    def load_token(self):
        return self
    def get_frozen_token(self):
        return self
    token = "stub-token"

def fetcher(args, **kwargs):
    return SSOCredentialFetcher(
        start_url=args["startUrl"], sso_region="us-east-1", role_name=args["roleName"],
        account_id=args["accountId"], sso_session_name=args.get("sessionName"), **kwargs)

op, payload = sys.argv[1], json.loads(sys.argv[2])
if op == "keys":
    for args in payload:
        print(fetcher(args, client_creator=no_client)._create_cache_key())
elif op == "read":
    creds = fetcher(payload["args"], client_creator=no_client, cache=JSONFileCache(payload["dir"])).fetch_credentials()
    print(json.dumps({"accessKeyId": creds["access_key"], "expiry": creds["expiry_time"], "accountId": creds["account_id"]}))
elif op == "write":
    args = payload["args"]
    extra = {"token_provider": StubTokenProvider()} if args.get("sessionName") else {
        "token_loader": lambda start_url: {"accessToken": "stub-token", "expiresAt": "2999-01-01T00:00:00Z"}}
    fetcher(args, client_creator=lambda *a, **k: StubClient(payload["answer"]),
            cache=JSONFileCache(payload["dir"]), **extra).fetch_credentials()
`

const python = (op: "keys" | "read" | "write", payload: unknown): string =>
  execFileSync("python3", ["-c", oracle, op, JSON.stringify(payload)], { encoding: "utf8", timeout: 60_000 }).trim()

const startUrl = "https://my-sso-portal.awsapps.com/start"
const account = "111122223333"
const role = "Admin"

const devArgs: CliCache.SsoRoleArgs = { accountId: account, roleName: role, sessionName: "my-sso", startUrl }
const legacyArgs: CliCache.SsoRoleArgs = { accountId: account, roleName: role, startUrl }

const cached = Sso.layerWith({ cache: "cli", timeout: "2 seconds", maxAttempts: 1 })

/** `dev` (sso_session) and `legacy` (start URL in the profile), as in Sso.test.ts. */
const writeConfig = (home: TempHome) =>
  home.writeConfig(
    [
      "[profile dev]",
      "sso_session = my-sso",
      `sso_account_id = ${account}`,
      `sso_role_name = ${role}`,
      "",
      "[sso-session my-sso]",
      `sso_start_url = ${startUrl}`,
      "sso_region = us-east-1",
      "",
      "[profile legacy]",
      `sso_start_url = ${startUrl}`,
      "sso_region = us-east-1",
      `sso_account_id = ${account}`,
      `sso_role_name = ${role}`,
      ""
    ].join("\n")
  )

const sha1 = (text: string) => crypto.createHash("sha1").update(text).digest("hex")

/** A valid token for both profiles (the session's and the start URL's cache files). */
const writeTokens = (home: TempHome) => {
  const token = JSON.stringify({
    startUrl,
    region: "us-east-1",
    accessToken: "cached-access-token",
    expiresAt: new Date(Date.now() + 8 * 3600_000).toISOString().replace(/\.\d+Z$/, "Z")
  })
  for (const id of ["my-sso", startUrl]) home.write(path.join(".aws", "sso", "cache", `${sha1(id)}.json`), token)
}

const removeTokens = (home: TempHome) => fs.rmSync(path.join(home.dir, ".aws", "sso"), { recursive: true, force: true })

const cacheDir = (home: TempHome) => CliCache.cacheDirectory(home.dir)
const cacheFile = (home: TempHome, args: CliCache.SsoRoleArgs) =>
  path.join(cacheDir(home), `${CliCache.ssoCacheKey(args)}.json`)

/** A temporary home with both profiles and a valid cached token, and a portal that accepts it. */
const loggedIn = Effect.gen(function*() {
  const home = yield* tempHome
  const server = yield* SsoServer.make()
  writeConfig(home)
  writeTokens(home)
  server.acceptToken("cached-access-token")
  return { home, server }
})

const envFor = (home: TempHome, server: SsoServer.SsoServer, profile: string): Env =>
  home.env({ AWS_PROFILE: profile, AWS_ENDPOINT_URL_SSO: server.url, AWS_ENDPOINT_URL_SSO_OIDC: server.url })

/** A cache file as the CLI v2 writes it for an SSO role. */
const cliFile = (expiration: string, accessKeyId = "ASIAWRITTENBYTHECLI1") =>
  JSON.stringify({
    ProviderType: "sso",
    Credentials: {
      AccessKeyId: accessKeyId,
      SecretAccessKey: "cliSecretKeyNeverPrinted000000000000001",
      SessionToken: "cliSessionTokenNeverPrinted0000000001",
      Expiration: expiration,
      AccountId: account
    }
  })

const isoZ = (millis: number) => `${new Date(millis).toISOString().slice(0, 19)}Z`

describe.skipIf(!botocore.ok)(`SsoCache: the key is botocore's SSOCredentialFetcher._create_cache_key${skipped}`, () => {
  it("legacy (start URL) and sso-session profiles, odd characters, an empty session name", () => {
    const cases: ReadonlyArray<CliCache.SsoRoleArgs> = [
      legacyArgs,
      devArgs,
      { accountId: "000000000001", roleName: "Read-Only_Role+=,.@", startUrl: "https://d-1234567890.awsapps.com/start/#/" },
      { accountId: account, roleName: "caf\u00e9 \u65e5\u672c \ud83d\ude00", sessionName: "s\u00e9ssion \"q\" \\ /", startUrl },
      // botocore tests the session name for truthiness: an empty one keys by the start URL.
      { accountId: account, roleName: role, sessionName: "", startUrl }
    ]
    const expected = python("keys", cases)
    const ours = cases.map(CliCache.ssoCacheKey).join("\n")
    assert.strictEqual(ours, expected)
    // Not the assume-role spelling: the SSO fetcher's JSON has no spaces.
    assert.notStrictEqual(
      CliCache.ssoCacheKey(legacyArgs),
      sha1(CliCache.pythonJsonDumps({ accountId: account, roleName: role, startUrl }))
    )
  })
})

describe("SsoCache: through the sso source", () => {
  for (const [profile, args] of [["dev", devArgs], ["legacy", legacyArgs]] as const) {
    it.scopedLive(`${profile}: a miss calls the portal once and writes the CLI's file; a hit calls nothing`, () =>
      Effect.gen(function*() {
        const { home, server } = yield* loggedIn
        const env = envFor(home, server, profile)

        const first = getSuccess(yield* resolveWith(cached, { env }))
        assert.deepStrictEqual(server.calls, { portal: 1, oidc: 0, signin: 0 })
        const issued = server.issued[0]!
        assert.strictEqual(first.credentials.accessKeyId, issued.accessKeyId)
        const key = botocore.ok ? python("keys", [args]) : CliCache.ssoCacheKey(args)
        assert.deepStrictEqual(fs.readdirSync(cacheDir(home)), [`${key}.json`])
        const file = path.join(cacheDir(home), `${key}.json`)
        assert.strictEqual(fs.statSync(file).mode & 0o777, 0o600)
        assert.strictEqual(fs.statSync(cacheDir(home)).mode & 0o777, 0o700)
        assert.deepStrictEqual(JSON.parse(fs.readFileSync(file, "utf8")), {
          ProviderType: "sso",
          Credentials: {
            AccessKeyId: issued.accessKeyId,
            SecretAccessKey: issued.secretAccessKey,
            SessionToken: issued.sessionToken,
            Expiration: isoZ(issued.expiration),
            AccountId: account
          }
        })

        // Another process, in effect: a new layer, and no token at all (botocore reads the cache
        // before the token too).
        removeTokens(home)
        const second = getSuccess(yield* resolveWith(cached, { env }))
        assert.deepStrictEqual(server.calls, { portal: 1, oidc: 0, signin: 0 })
        assert.strictEqual(second.credentials.source, "sso")
        assert.strictEqual(second.credentials.accessKeyId, issued.accessKeyId)
        assert.strictEqual(Redacted.value(second.credentials.secretAccessKey), issued.secretAccessKey)
        assert.deepStrictEqual(
          Option.map(second.credentials.sessionToken, Redacted.value),
          Option.some(issued.sessionToken)
        )
        assert.deepStrictEqual(second.credentials.accountId, Option.some(account))
        assert.deepStrictEqual(
          Option.map(second.credentials.expiration, DateTime.toEpochMillis),
          Option.some(Math.floor(issued.expiration / 1000) * 1000)
        )
        assert.strictEqual(
          second.credentials.provenance,
          `profile ${profile}: IAM Identity Center role ${role} in account ${account}${
            profile === "dev" ? " (sso-session my-sso)" : ""
          }, from the AWS CLI cache (${key}.json in ${cacheDir(home)})`
        )
        assert.deepStrictEqual(outcomes(second.attempts), [["sso", "resolved"]])
      }))
  }

  it.scopedLive.skipIf(!botocore.ok)(`botocore's fetcher answers from our file without creating a client${skipped}`, () =>
    Effect.gen(function*() {
      const { home, server } = yield* loggedIn
      for (const [profile, args] of [["dev", devArgs], ["legacy", legacyArgs]] as const) {
        getSuccess(yield* resolveWith(cached, { env: envFor(home, server, profile) }))
        const issued = server.issued.at(-1)!
        const answer = JSON.parse(python("read", { args, dir: cacheDir(home) })) as Record<string, string>
        assert.deepStrictEqual(answer, { accessKeyId: issued.accessKeyId, expiry: isoZ(issued.expiration), accountId: account })
      }
      assert.strictEqual(server.calls.portal, 2)
    }))

  it.scopedLive.skipIf(!botocore.ok)(`we answer from the file botocore's fetcher wrote: no token, no portal${skipped}`, () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const server = yield* SsoServer.make()
      writeConfig(home)
      for (const [profile, args] of [["dev", devArgs], ["legacy", legacyArgs]] as const) {
        const expiration = Math.floor(Date.now() / 1000) * 1000 + 3600_000
        const accessKeyId = `ASIABOTOCORE${profile.toUpperCase().padEnd(8, "0")}`
        python("write", {
          args,
          dir: cacheDir(home),
          answer: {
            accessKeyId,
            secretAccessKey: "botocoreSecretKeyNeverPrinted0000000001",
            sessionToken: "botocoreSessionTokenNeverPrinted00001",
            expiration
          }
        })
        assert.isTrue(fs.existsSync(cacheFile(home, args)), "botocore wrote the file we look for")
        const { credentials } = getSuccess(yield* resolveWith(cached, { env: envFor(home, server, profile) }))
        assert.strictEqual(credentials.accessKeyId, accessKeyId)
        assert.deepStrictEqual(Option.map(credentials.expiration, DateTime.toEpochMillis), Option.some(expiration))
        assert.deepStrictEqual(credentials.accountId, Option.some(account))
      }
      assert.lengthOf(server.requests, 0)
    }))

  it.scopedLive("a corrupt or foreign file is ignored and replaced, never an error", () =>
    Effect.gen(function*() {
      const { home, server } = yield* loggedIn
      const file = cacheFile(home, devArgs)
      const future = isoZ(Date.now() + 3600_000)
      const contents = [
        "{\"ProviderType\": \"sso\", \"Credentials\": {\"AccessKeyId\": ",
        "garbage\n",
        "",
        "[1, 2, 3]",
        JSON.stringify({ startUrl, accessToken: "t", expiresAt: future }),
        JSON.stringify({ ProviderType: "sso", Credentials: { AccessKeyId: "A", SecretAccessKey: "s", Expiration: future } }),
        JSON.stringify({ ProviderType: "sso", Credentials: { AccessKeyId: "A", SecretAccessKey: "s", SessionToken: "t", Expiration: "soon" } })
      ]
      for (const [index, content] of contents.entries()) {
        home.write(path.relative(home.dir, file), content)
        const { credentials } = getSuccess(yield* resolveWith(cached, { env: envFor(home, server, "dev") }))
        assert.strictEqual(server.calls.portal, index + 1)
        assert.strictEqual(credentials.accessKeyId, server.issued[index]!.accessKeyId)
        const replaced = JSON.parse(fs.readFileSync(file, "utf8")) as { Credentials: { AccessKeyId: string } }
        assert.strictEqual(replaced.Credentials.AccessKeyId, credentials.accessKeyId)
        assert.strictEqual(fs.statSync(file).mode & 0o777, 0o600)
      }
      // Only the cache file: no temporary file left behind.
      assert.deepStrictEqual(fs.readdirSync(cacheDir(home)), [path.basename(file)])
    }))

  it.scopedLive("an expired entry, or one with less than 15 minutes left, is replaced; 20 minutes left is used", () =>
    Effect.gen(function*() {
      const { home, server } = yield* loggedIn
      const file = cacheFile(home, legacyArgs)
      for (const [minutes, used] of [[-5, false], [10, false], [14.5, false], [20, true]] as const) {
        home.write(path.relative(home.dir, file), cliFile(isoZ(Date.now() + minutes * 60_000)))
        const before = server.calls.portal
        const { credentials } = getSuccess(yield* resolveWith(cached, { env: envFor(home, server, "legacy") }))
        assert.strictEqual(credentials.accessKeyId === "ASIAWRITTENBYTHECLI1", used, `${minutes} minutes left`)
        assert.strictEqual(server.calls.portal - before, used ? 0 : 1, `${minutes} minutes left`)
        const onDisk = JSON.parse(fs.readFileSync(file, "utf8")) as { Credentials: { AccessKeyId: string } }
        assert.strictEqual(onDisk.Credentials.AccessKeyId, credentials.accessKeyId)
      }
    }))

  it.scopedLive("without the option the file is neither read nor written", () =>
    Effect.gen(function*() {
      const { home, server } = yield* loggedIn
      const uncached = Sso.layerWith({ timeout: "2 seconds", maxAttempts: 1 })
      getSuccess(yield* resolveWith(uncached, { env: envFor(home, server, "dev") }))
      assert.isFalse(fs.existsSync(cacheDir(home)))
      home.write(path.relative(home.dir, cacheFile(home, devArgs)), cliFile(isoZ(Date.now() + 3600_000)))
      const { credentials } = getSuccess(yield* resolveWith(uncached, { env: envFor(home, server, "dev") }))
      assert.strictEqual(credentials.accessKeyId, server.issued[1]!.accessKeyId)
      assert.strictEqual(server.calls.portal, 2)
    }))

  it.scopedLive("the default chain passes the option through (`sso: { cache: \"cli\" }`)", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const server = yield* SsoServer.make()
      writeConfig(home)
      home.write(path.relative(home.dir, cacheFile(home, devArgs)), cliFile(isoZ(Date.now() + 3600_000)))
      const { attempts, credentials } = getSuccess(
        yield* resolveWith(defaultChain(home, { sso: { cache: "cli", maxAttempts: 1 } }), { env: envFor(home, server, "dev") })
      )
      assert.strictEqual(credentials.accessKeyId, "ASIAWRITTENBYTHECLI1")
      assert.strictEqual(credentials.source, "sso")
      assert.deepStrictEqual(outcomes(attempts).at(-1), ["sso", "resolved"])
      assert.lengthOf(server.requests, 0)
    }))

  it.scopedLive("secrets never reach the logs, on a miss or a hit", () =>
    Effect.gen(function*() {
      const { home, server } = yield* loggedIn
      const file = cacheFile(home, devArgs)
      home.write(path.relative(home.dir, file), "garbage")
      const [miss, missLogs] = yield* withCapturedLogs(resolveWith(cached, { env: envFor(home, server, "dev") }))
      const [hit, hitLogs] = yield* withCapturedLogs(resolveWith(cached, { env: envFor(home, server, "dev") }))
      const issued = server.issued[0]!
      assert.strictEqual(getSuccess(Exit.flatten(hit)).credentials.accessKeyId, issued.accessKeyId)
      assert.strictEqual(server.calls.portal, 1)
      const logs = [...missLogs, ...hitLogs]
      assert.isTrue(logs.some((line) => line.message.includes("ignoring an unreadable AWS CLI cache file")))
      assert.isTrue(logs.some((line) => line.message.includes("SSO role credentials from the AWS CLI cache")))
      const secrets = [issued.secretAccessKey, issued.sessionToken, "cached-access-token"]
      for (const line of logs) for (const secret of secrets) assert.notInclude(line.rendered, secret)
      assertNoSecrets(miss, secrets)
      assertNoSecrets(hit, secrets)
    }))
})
