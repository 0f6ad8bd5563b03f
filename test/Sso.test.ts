import { assert, describe, it } from "@effect/vitest"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as Cause from "effect/Cause"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as TestClock from "effect/TestClock"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import * as util from "node:util"
import { AwsCredentials } from "../src/AwsCredentials.js"
import * as AwsSession from "../src/AwsSession.js"
import type { CredentialsError } from "../src/CredentialsError.js"
import * as Sso from "../src/providers/SsoCredentials.js"
import * as SsoProfile from "../src/internal/ssoProfile.js"
import {
  type Env,
  getFailure,
  getSuccess,
  outcomes,
  resolveWith,
  runWith,
  type TempHome,
  tempHome,
  withCapturedLogs,
  withEnv
} from "./support/fixtures.js"
import * as RefreshWatch from "./support/refreshWatch.js"
import { assertNoSecrets } from "./support/secrets.js"
import * as SsoServer from "./support/ssoServer.js"

const startUrl = "https://my-sso-portal.awsapps.com/start"
const account = "111122223333"
const role = "Admin"

const layer = Sso.layerWith({ timeout: "2 seconds", maxAttempts: 2 })

const sha1 = (text: string) => crypto.createHash("sha1").update(text).digest("hex")

/** A config with an `sso_session` profile `dev` and a legacy profile `legacy`. */
const writeConfig = (home: TempHome, extra = "") =>
  home.writeConfig(
    [
      "[profile dev]",
      "sso_session = my-sso",
      `sso_account_id = ${account}`,
      `sso_role_name = ${role}`,
      "region = us-west-2",
      "",
      "[sso-session my-sso]",
      `sso_start_url = ${startUrl}`,
      "sso_region = us-east-1",
      "sso_registration_scopes = sso:account:access",
      "",
      "[profile legacy]",
      `sso_start_url = ${startUrl}`,
      "sso_region = us-east-1",
      `sso_account_id = ${account}`,
      `sso_role_name = ${role}`,
      "",
      extra
    ].join("\n")
  )

const editConfig = (home: TempHome, from: string, to: string) =>
  home.writeConfig(fs.readFileSync(home.configPath, "utf8").replace(from, to))

const iso = (ms: number) => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(".000Z", "Z")

/** Writes a token into the SSO cache under `sha1(id)`; returns its path. */
const writeToken = (home: TempHome, id: string, token: Record<string, unknown>): string =>
  home.write(path.join(".aws", "sso", "cache", `${sha1(id)}.json`), JSON.stringify(token))

const refreshable = (expiresAt: number, overrides: Record<string, unknown> = {}) => ({
  startUrl,
  region: "us-east-1",
  accessToken: "cached-access-token",
  expiresAt: iso(expiresAt),
  clientId: "client-id-1",
  clientSecret: "client-secret-value",
  registrationExpiresAt: iso(Date.now() + 90 * 86400_000),
  refreshToken: "refresh-token-value",
  aFieldFromANewerCli: { kept: true },
  ...overrides
})

const envFor = (home: TempHome, server: SsoServer.SsoServer, vars: Env = {}) =>
  home.env({
    AWS_PROFILE: "dev",
    AWS_ENDPOINT_URL_SSO: server.url,
    AWS_ENDPOINT_URL_SSO_OIDC: server.url,
    ...vars
  })

const failureOf = (exit: Exit.Exit<unknown, unknown>): CredentialsError => {
  const error = getFailure(exit) as { _tag: string }
  assert.strictEqual(error._tag, "CredentialsError", String(error))
  return error as CredentialsError
}

describe("Sso: configured or not", () => {
  it.scopedLive("is unavailable without a profile or without sso_account_id / sso_role_name", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const server = yield* SsoServer.make()
      home.writeConfig("[default]\nregion = us-east-1\n\n[profile tokenonly]\nsso_session = s\n\n[sso-session s]\n")
      for (const [profile, reason] of [
        ["default", "profile default has no sso_account_id or sso_role_name"],
        ["tokenonly", "profile tokenonly has no sso_account_id or sso_role_name"]
      ] as const) {
        const error = getFailure(yield* resolveWith(layer, { env: envFor(home, server, { AWS_PROFILE: profile }) }))
        assert.strictEqual(error._tag, "CredentialsUnavailable")
        if (error._tag === "CredentialsUnavailable") assert.deepStrictEqual([error.reason, error.detail], ["NotConfigured", reason])
      }
      assert.deepStrictEqual(server.calls, { portal: 0, oidc: 0, signin: 0 })
    }))

  it.scopedLive("sso_session profile: the token cached under sha1(session name) buys the role's credentials", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const server = yield* SsoServer.make()
      writeConfig(home)
      const tokenPath = writeToken(home, "my-sso", refreshable(Date.now() + 3600_000))
      assert.strictEqual(path.basename(tokenPath), `${sha1("my-sso")}.json`)
      server.acceptToken("cached-access-token")
      server.assignRole(account, role)
      const { attempts, credentials } = getSuccess(yield* resolveWith(layer, { env: envFor(home, server) }))
      const issued = server.issued[0]!
      assert.strictEqual(credentials.source, "sso")
      assert.strictEqual(credentials.accessKeyId, issued.accessKeyId)
      assert.strictEqual(Redacted.value(credentials.secretAccessKey), issued.secretAccessKey)
      assert.deepStrictEqual(Option.map(credentials.sessionToken, Redacted.value), Option.some(issued.sessionToken))
      assert.deepStrictEqual(credentials.accountId, Option.some(account))
      assert.deepStrictEqual(Option.map(credentials.expiration, DateTime.toEpochMillis), Option.some(issued.expiration))
      assert.strictEqual(
        credentials.provenance,
        `profile dev: IAM Identity Center role Admin in account ${account} via SSO portal in us-east-1 ` +
          `(sso-session my-sso), token ${tokenPath}`
      )
      assert.deepStrictEqual(outcomes(attempts), [["sso", "resolved"]])
      // The portal saw the protocol: query parameters and the bearer header; nothing refreshed.
      const request = server.requests.find((r) => r.route === "portal")!
      assert.strictEqual(request.method, "GET")
      assert.strictEqual(request.url, `/federation/credentials?account_id=${account}&role_name=${role}`)
      assert.strictEqual(request.headers["x-amz-sso_bearer_token"], "cached-access-token")
      assert.deepStrictEqual(server.calls, { portal: 1, oidc: 0, signin: 0 })
    }))

  it.scopedLive("legacy profile: the token cached under sha1(start URL); no refresh even near expiry", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const server = yield* SsoServer.make()
      writeConfig(home)
      writeToken(home, startUrl, refreshable(Date.now() + 5 * 60_000, { accessToken: "legacy-token" }))
      server.acceptToken("legacy-token")
      const { credentials } = getSuccess(
        yield* resolveWith(layer, { env: envFor(home, server, { AWS_PROFILE: "legacy" }) })
      )
      assert.strictEqual(credentials.accessKeyId, server.issued[0]!.accessKeyId)
      assert.include(
        credentials.provenance,
        `profile legacy: IAM Identity Center role Admin in account ${account} via SSO portal in us-east-1, token `
      )
      assert.deepStrictEqual(server.calls, { portal: 1, oidc: 0, signin: 0 })
    }))
})

describe("Sso: cache key derivation", () => {
  it.effect("sha1 hex of the session name or of the start URL (botocore, the JS SDK)", () =>
    Effect.gen(function*() {
      const TokenCache = yield* Effect.promise(() => import("../src/internal/tokenCache.js"))
      // The session-name hash is the file name in the SDK vectors; the start-URL one is
      // hashlib.sha1(b"https://my-sso-portal.awsapps.com/start").hexdigest().
      assert.strictEqual(TokenCache.ssoCacheKey("test-sso"), "d12208e38164f558a1d06c99432ab77dbb346c45")
      assert.strictEqual(TokenCache.ssoCacheKey(startUrl), "c7aaaf71fcc8777ae2475525ed049d39fe16c484")
      assert.strictEqual(
        TokenCache.ssoCachePath("/home/me", "test-sso"),
        "/home/me/.aws/sso/cache/d12208e38164f558a1d06c99432ab77dbb346c45.json"
      )
    }))
})

describe("Sso: broken configuration", () => {
  const cases: ReadonlyArray<readonly [string, string, ReadonlyArray<string>]> = [
    [
      "legacy profile without sso_region",
      `[default]\nsso_start_url = ${startUrl}\nsso_account_id = 1\nsso_role_name = r\n`,
      ["sso_region is missing", "default"]
    ],
    [
      "sso_account_id alone",
      `[default]\nsso_account_id = 1\n`,
      ["sso_start_url, sso_region, sso_role_name are missing"]
    ],
    [
      "sso_session naming a missing section",
      `[default]\nsso_session = nope\nsso_account_id = 1\nsso_role_name = r\n\n[sso-session other]\nsso_region = x\n`,
      ["sso_session = nope names an [sso-session nope] section that is not in the config file", "other"]
    ],
    [
      "start URL differing between profile and session",
      `[default]\nsso_session = s\nsso_start_url = https://a.example/start\nsso_account_id = 1\nsso_role_name = r\n\n` +
      `[sso-session s]\nsso_start_url = https://b.example/start\nsso_region = us-east-1\n`,
      ["sso_start_url is \"https://a.example/start\" in the profile but \"https://b.example/start\" in [sso-session s]"]
    ],
    [
      "region differing between profile and session",
      `[default]\nsso_session = s\nsso_region = eu-west-1\nsso_account_id = 1\nsso_role_name = r\n\n` +
      `[sso-session s]\nsso_start_url = https://b.example/start\nsso_region = us-east-1\n`,
      ["sso_region is \"eu-west-1\" in the profile but \"us-east-1\" in [sso-session s]"]
    ],
    [
      "sso_region in the profile that its session leaves out (botocore reads it from the session only)",
      `[default]\nsso_session = s\nsso_region = eu-west-1\nsso_account_id = 1\nsso_role_name = r\n\n` +
      `[sso-session s]\nsso_start_url = https://b.example/start\n`,
      ["sso_region is set in the profile", "move it to [sso-session s]"]
    ],
    [
      "session without sso_start_url",
      `[default]\nsso_session = s\nsso_account_id = 1\nsso_role_name = r\n\n[sso-session s]\nsso_region = us-east-1\n`,
      ["sso_start_url is missing", "[sso-session s]"]
    ],
    [
      "services section that does not exist",
      `[default]\nsso_start_url = ${startUrl}\nsso_region = us-east-1\nsso_account_id = 1\nsso_role_name = r\n` +
      "services = gone\n",
      ["[services gone]"]
    ]
  ]
  for (const [name, config, expected] of cases) {
    it.scopedLive(`${name}: InvalidConfiguration naming it`, () =>
      Effect.gen(function*() {
        const home = yield* tempHome
        home.writeConfig(config)
        // No endpoint variables: a configuration error must stop before any network call.
        const error = failureOf(yield* resolveWith(layer, { env: home.env() }))
        assert.strictEqual(error.reason, "InvalidConfiguration")
        assert.strictEqual(error.source, "sso")
        for (const text of expected) assert.include(error.message, text)
        assert.strictEqual(error.path, home.configPath)
      }))
  }
})

describe("Sso: the token cache", () => {
  it.scopedLive("no token: TokenMissing with the aws sso login command for the session or the profile", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const server = yield* SsoServer.make()
      writeConfig(home)
      const dev = failureOf(yield* resolveWith(layer, { env: envFor(home, server) }))
      assert.strictEqual(dev.reason, "TokenMissing")
      assert.include(dev.message, "run `aws sso login --sso-session my-sso`")
      assert.include(dev.message, path.join(home.dir, ".aws", "sso", "cache", `${sha1("my-sso")}.json`))
      const legacy = failureOf(yield* resolveWith(layer, { env: envFor(home, server, { AWS_PROFILE: "legacy" }) }))
      assert.strictEqual(legacy.reason, "TokenMissing")
      assert.include(legacy.message, "run `aws sso login --profile legacy`")
      assert.deepStrictEqual(server.calls, { portal: 0, oidc: 0, signin: 0 })
    }))

  it.scopedLive("an expired token without a refresh token: TokenExpired, and the portal is not asked", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const server = yield* SsoServer.make()
      writeConfig(home)
      writeToken(home, "my-sso", { accessToken: "old", expiresAt: iso(Date.now() - 60_000), startUrl })
      writeToken(home, startUrl, { accessToken: "old", expiresAt: iso(Date.now() - 60_000) })
      const dev = failureOf(yield* resolveWith(layer, { env: envFor(home, server) }))
      assert.strictEqual(dev.reason, "TokenExpired")
      assert.include(dev.message, "run `aws sso login --sso-session my-sso`")
      assert.include(dev.message, "not refreshed: the cached token has no refreshToken, clientId, clientSecret")
      const legacy = failureOf(yield* resolveWith(layer, { env: envFor(home, server, { AWS_PROFILE: "legacy" }) }))
      assert.strictEqual(legacy.reason, "TokenExpired")
      assert.include(legacy.message, "run `aws sso login --profile legacy`")
      assert.deepStrictEqual(server.calls, { portal: 0, oidc: 0, signin: 0 })
    }))

  it.scopedLive("a corrupt or foreign cache file is MalformedFile naming the file and the fix, never its content", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const server = yield* SsoServer.make()
      writeConfig(home)
      for (
        const [content, problem] of [
          ["{\"accessToken\": \"secret-in-broken-file", "is not valid JSON"],
          ["[\"secret-in-broken-file\"]", "does not hold a JSON object"],
          [
            JSON.stringify({ token: "secret-in-broken-file", expiresAt: 3 }),
            "accessToken is missing; expiresAt has an invalid value"
          ],
          [
            JSON.stringify({ accessToken: "secret-in-broken-file", expiresAt: "next tuesday" }),
            "expiresAt that is not an ISO 8601"
          ]
        ] as const
      ) {
        const file = home.write(path.join(".aws", "sso", "cache", `${sha1("my-sso")}.json`), content)
        const error = failureOf(yield* resolveWith(layer, { env: envFor(home, server) }))
        assert.strictEqual(error.reason, "MalformedFile")
        assert.strictEqual(error.path, file)
        assert.include(error.message, problem)
        assert.include(error.message, "aws sso login --sso-session my-sso")
        assert.notInclude(error.message, "secret-in-broken-file")
        assert.notInclude(Cause.pretty(Cause.fail(error)), "secret-in-broken-file")
      }
      // A directory where the file should be.
      fs.rmSync(path.join(home.dir, ".aws", "sso", "cache", `${sha1("my-sso")}.json`))
      fs.mkdirSync(path.join(home.dir, ".aws", "sso", "cache", `${sha1("my-sso")}.json`))
      const error = failureOf(yield* resolveWith(layer, { env: envFor(home, server) }))
      assert.strictEqual(error.reason, "FileUnreadable")
      assert.deepStrictEqual(server.calls, { portal: 0, oidc: 0, signin: 0 })
    }))

  it.scopedLive("a token outside the refresh window is used as it is", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const server = yield* SsoServer.make()
      writeConfig(home)
      const file = writeToken(home, "my-sso", refreshable(Date.now() + 20 * 60_000))
      const before = fs.readFileSync(file, "utf8")
      server.acceptToken("cached-access-token")
      getSuccess(yield* resolveWith(layer, { env: envFor(home, server) }))
      assert.deepStrictEqual(server.calls, { portal: 1, oidc: 0, signin: 0 })
      assert.strictEqual(fs.readFileSync(file, "utf8"), before)
    }))
})

describe("Sso: token refresh", () => {
  it.scopedLive("within 15 minutes of expiry: CreateToken, the cache rewritten atomically (0600, fields kept)", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const server = yield* SsoServer.make()
      writeConfig(home)
      const file = writeToken(home, "my-sso", refreshable(Date.now() + 10 * 60_000))
      fs.chmodSync(file, 0o644)
      server.registerOidc({
        clientId: "client-id-1",
        clientSecret: "client-secret-value",
        refreshToken: "refresh-token-value"
      })
      const started = Date.now()
      const { credentials } = getSuccess(yield* resolveWith(layer, { env: envFor(home, server) }))
      assert.strictEqual(credentials.accessKeyId, server.issued[0]!.accessKeyId)
      assert.deepStrictEqual(server.calls, { portal: 1, oidc: 1, signin: 0 })
      const createToken = server.requests.find((r) => r.route === "oidc")!
      assert.deepStrictEqual(createToken.body, {
        clientId: "client-id-1",
        clientSecret: "client-secret-value",
        grantType: "refresh_token",
        refreshToken: "refresh-token-value"
      })
      const written = JSON.parse(fs.readFileSync(file, "utf8"))
      const portal = server.requests.find((r) => r.route === "portal")!
      assert.strictEqual(portal.headers["x-amz-sso_bearer_token"], written.accessToken)
      assert.match(written.accessToken, /^oidc-access-/)
      assert.match(written.refreshToken, /^oidc-refresh-/)
      assert.match(written.expiresAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/)
      const expiresAt = Date.parse(written.expiresAt)
      assert.isAtLeast(expiresAt, Math.floor(started / 1000) * 1000 + 3600_000)
      assert.isAtMost(expiresAt, Date.now() + 3600_000)
      // Everything else is kept, including what this library does not know.
      const replaced = { accessToken: "-", refreshToken: "-", expiresAt: "-" }
      assert.deepStrictEqual(
        { ...written, ...replaced },
        { ...refreshable(0), ...replaced, registrationExpiresAt: written.registrationExpiresAt }
      )
      assert.strictEqual(fs.statSync(file).mode & 0o777, 0o600)
      assert.deepStrictEqual(fs.readdirSync(path.dirname(file)), [path.basename(file)])
    }))

  it.scopedLive("an aws sso login written while CreateToken runs is kept, not overwritten", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const server = yield* SsoServer.make()
      writeConfig(home)
      const file = writeToken(home, "my-sso", refreshable(Date.now() + 10 * 60_000))
      server.registerOidc({
        clientId: "client-id-1",
        clientSecret: "client-secret-value",
        refreshToken: "refresh-token-value"
      })
      server.inject("oidc", SsoServer.Fault.slow(600))
      const newer = JSON.stringify({ accessToken: "from-a-new-login", expiresAt: iso(Date.now() + 8 * 3600_000) })
      yield* Effect.fork(Effect.delay(Effect.sync(() => fs.writeFileSync(file, newer)), "200 millis"))
      getSuccess(yield* resolveWith(layer, { env: envFor(home, server) }))
      assert.strictEqual(server.calls.oidc, 1)
      assert.strictEqual(fs.readFileSync(file, "utf8"), newer)
    }))

  it.scopedLive("a failed refresh with a still-valid token: the token is used, a warning without secrets", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const server = yield* SsoServer.make()
      writeConfig(home)
      const file = writeToken(home, "my-sso", refreshable(Date.now() + 5 * 60_000))
      const before = fs.readFileSync(file, "utf8")
      server.acceptToken("cached-access-token")
      // Not registered: SSO-OIDC answers InvalidClientException.
      const [exit, logs] = yield* withCapturedLogs(resolveWith(layer, { env: envFor(home, server) }))
      getSuccess(Exit.flatten(exit))
      assert.deepStrictEqual(server.calls, { portal: 1, oidc: 1, signin: 0 })
      assert.strictEqual(fs.readFileSync(file, "utf8"), before)
      const warning = logs.find((line) => line.message.includes("SSO token refresh failed"))
      assert.isDefined(warning)
      assert.include(warning!.rendered, "InvalidClientException")
      for (const secret of ["cached-access-token", "client-secret-value", "refresh-token-value"]) {
        for (const line of logs) assert.notInclude(line.rendered, secret)
      }
    }))

  it.scopedLive("a failed refresh of an expired token: TokenExpired with the reason and the command", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const server = yield* SsoServer.make()
      writeConfig(home)
      writeToken(home, "my-sso", refreshable(Date.now() - 60_000))
      server.registerOidc({ clientId: "client-id-1", clientSecret: "client-secret-value", refreshToken: "another" })
      const error = failureOf(yield* resolveWith(layer, { env: envFor(home, server) }))
      assert.strictEqual(error.reason, "TokenExpired")
      assert.include(error.message, "CreateToken InvalidGrantException invalid_grant (HTTP 400)")
      assert.include(error.message, "run `aws sso login --sso-session my-sso`")
      assert.deepStrictEqual(server.calls, { portal: 0, oidc: 1, signin: 0 })
    }))

  it.scopedLive("refresh attempts are spaced by tokenRefreshRetryInterval; an expired registration is not used", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const server = yield* SsoServer.make()
      writeConfig(home)
      writeToken(home, "my-sso", refreshable(Date.now() + 5 * 60_000))
      server.acceptToken("cached-access-token")
      server.inject("oidc", SsoServer.Fault.serverError, SsoServer.Fault.serverError)
      const gate = yield* SsoProfile.makeGate
      const env = envFor(home, server)
      const resolveOnce = Effect.gen(function*() {
        const session = yield* AwsSession.make()
        return yield* SsoProfile.fetchCredentials({ session, profileName: "dev", gate }, SsoProfile.settingsOf({ maxAttempts: 2, timeout: "2 seconds" }))
      }).pipe(withEnv(env), Effect.provide(NodeFileSystem.layer), Logger.withMinimumLogLevel(LogLevel.Error))
      yield* resolveOnce
      yield* resolveOnce
      yield* resolveOnce
      // One refresh (two attempts for its 500s), then none within the interval.
      assert.strictEqual(server.calls.oidc, 2)
      assert.strictEqual(server.calls.portal, 3)

      writeToken(home, "my-sso", refreshable(Date.now() - 1000, { registrationExpiresAt: iso(Date.now() - 1000) }))
      const freshGate = yield* SsoProfile.makeGate
      const error = failureOf(
        yield* Effect.gen(function*() {
          const session = yield* AwsSession.make()
          return yield* SsoProfile.fetchCredentials({ session, profileName: "dev", gate: freshGate })
        }).pipe(withEnv(env), Effect.provide(NodeFileSystem.layer), Effect.exit)
      )
      assert.strictEqual(error.reason, "TokenExpired")
      assert.include(error.message, "the client registration expired")
      assert.strictEqual(server.calls.oidc, 2)
    }))
})

describe("Sso: the portal", () => {
  const setup = Effect.gen(function*() {
    const home = yield* tempHome
    const server = yield* SsoServer.make()
    writeConfig(home)
    writeToken(home, "my-sso", refreshable(Date.now() + 3600_000))
    server.acceptToken("cached-access-token")
    server.assignRole(account, role)
    return { home, server, env: envFor(home, server) }
  })

  it.scopedLive("401 UnauthorizedException: TokenExpired saying to log in again", () =>
    Effect.gen(function*() {
      const { env, server } = yield* setup
      server.inject("portal", SsoServer.Fault.unauthorized)
      const error = failureOf(yield* resolveWith(layer, { env }))
      assert.strictEqual(error.reason, "TokenExpired")
      assert.include(
        error.message,
        `the SSO portal at ${server.url} (from AWS_ENDPOINT_URL_SSO) rejected the cached SSO token`
      )
      assert.include(error.message, "UnauthorizedException (HTTP 401)")
      assert.include(error.message, "run `aws sso login --sso-session my-sso`")
      assert.strictEqual(server.calls.portal, 1)
    }))

  it.scopedLive("404 (role not assigned) and 403: ServiceError naming the role and account, no retry", () =>
    Effect.gen(function*() {
      const { env, home, server } = yield* setup
      editConfig(home, `sso_role_name = ${role}\nregion`, "sso_role_name = Other\nregion")
      const notAssigned = failureOf(yield* resolveWith(layer, { env }))
      assert.strictEqual(notAssigned.reason, "ServiceError")
      assert.include(notAssigned.message, `role Other in account ${account} is not assigned to this user`)
      assert.include(notAssigned.message, "ResourceNotFoundException (HTTP 404)")
      writeConfig(home)
      server.inject("portal", SsoServer.Fault.forbidden)
      const forbidden = failureOf(yield* resolveWith(layer, { env }))
      assert.strictEqual(forbidden.reason, "ServiceError")
      assert.include(forbidden.message, "ForbiddenException (HTTP 403)")
      assert.strictEqual(server.calls.portal, 2)
    }))

  it.scopedLive("500 then success: retried; 500 every time: ServiceError after the attempts", () =>
    Effect.gen(function*() {
      const { env, server } = yield* setup
      server.inject("portal", SsoServer.Fault.serverError)
      getSuccess(yield* resolveWith(layer, { env }))
      assert.strictEqual(server.calls.portal, 2)
      server.inject("portal", SsoServer.Fault.serverError, SsoServer.Fault.throttled)
      const error = failureOf(yield* resolveWith(layer, { env }))
      assert.strictEqual(error.reason, "ServiceError")
      assert.include(error.message, "TooManyRequestsException (HTTP 429) (after 2 attempts)")
      assert.strictEqual(server.calls.portal, 4)
    }))

  it.scopedLive("slow: Timeout; dropped connections: Unreachable; malformed JSON: InvalidResponse", () =>
    Effect.gen(function*() {
      const { env, server } = yield* setup
      const quick = Sso.layerWith({ timeout: "300 millis", maxAttempts: 2 })
      server.inject("portal", SsoServer.Fault.slow(3000), SsoServer.Fault.slow(3000))
      const slow = failureOf(yield* resolveWith(quick, { env }))
      assert.strictEqual(slow.reason, "Timeout")
      assert.include(
        slow.message,
        "GetRoleCredentials for role Admin in account 111122223333: no answer within 300ms (after 2 attempts)"
      )
      server.inject("portal", SsoServer.Fault.drop, SsoServer.Fault.drop)
      const dropped = failureOf(yield* resolveWith(quick, { env }))
      assert.strictEqual(dropped.reason, "Unreachable")
      assert.include(dropped.message, "connection failed")
      server.inject("portal", SsoServer.Fault.malformed)
      const malformed = failureOf(yield* resolveWith(quick, { env }))
      assert.strictEqual(malformed.reason, "InvalidResponse")
      assert.notInclude(malformed.message, "ASIA")
      server.inject("portal", SsoServer.Fault.respond(200, { roleCredentials: { accessKeyId: "ASIAX" } }))
      const partial = failureOf(yield* resolveWith(quick, { env }))
      assert.strictEqual(partial.reason, "InvalidResponse")
      assert.include(partial.message, "without usable roleCredentials (secretAccessKey is missing")
      assert.strictEqual(server.calls.portal, 6)
    }))

  it.scopedLive("expired credentials from the portal: Expired", () =>
    Effect.gen(function*() {
      const { env, server } = yield* setup
      server.inject("portal", SsoServer.Fault.expiredCredentials)
      const error = failureOf(yield* resolveWith(layer, { env }))
      assert.strictEqual(error.reason, "Expired")
    }))

  it.scopedLive("endpoints from [services] sub-properties and the profile's endpoint_url, as botocore reads them", () =>
    Effect.gen(function*() {
      const { home, server } = yield* setup
      writeConfig(home, `[services local]\nsso =\n  endpoint_url = ${server.url}\n`)
      editConfig(home, "region = us-west-2", "region = us-west-2\nservices = local")
      getSuccess(yield* resolveWith(layer, { env: home.env({ AWS_PROFILE: "dev" }) }))
      writeConfig(home)
      editConfig(home, "region = us-west-2", `region = us-west-2\nendpoint_url = ${server.url}`)
      getSuccess(yield* resolveWith(layer, { env: home.env({ AWS_PROFILE: "dev" }) }))
      // AWS_ENDPOINT_URL (global) too; a bad URL is a configuration error naming the variable.
      writeConfig(home)
      getSuccess(yield* resolveWith(layer, { env: home.env({ AWS_PROFILE: "dev", AWS_ENDPOINT_URL: server.url }) }))
      const bad = failureOf(
        yield* resolveWith(layer, { env: home.env({ AWS_PROFILE: "dev", AWS_ENDPOINT_URL_SSO: "ftp://x" }) })
      )
      assert.strictEqual(bad.reason, "InvalidConfiguration")
      assert.include(bad.message, "AWS_ENDPOINT_URL_SSO")
      assert.strictEqual(server.calls.portal, 3)
    }))
})

describe("Sso: an aws sso login while the program runs", () => {
  it.scoped("is picked up at the next refresh (the cache is read at every fetch)", () =>
    Effect.gen(function*() {
      const t0 = Date.parse("2026-03-01T12:00:00Z")
      yield* TestClock.setTime(t0)
      let now = t0
      const home = yield* tempHome
      const server = yield* SsoServer.make({ now: () => now })
      writeConfig(home)
      writeToken(home, "my-sso", { accessToken: "first-token", expiresAt: iso(t0 + 8 * 3600_000), startUrl })
      server.acceptToken("first-token")
      // The clock moves by minutes while real requests run: keep the call timeout out of reach.
      const slowClock = Sso.layerWith({ timeout: "1 day" })
      const exit = yield* runWith(slowClock, { env: envFor(home, server) }, Effect.gen(function*() {
        const service = yield* AwsCredentials
        const first = yield* service.get
        assert.strictEqual(first.accessKeyId, server.issued[0]!.accessKeyId)
        // The user signs out and in again: a new token in the cache, the old one revoked.
        server.revokeToken("first-token")
        server.acceptToken("second-token")
        writeToken(home, "my-sso", { accessToken: "second-token", expiresAt: iso(t0 + 8 * 3600_000), startUrl })
        now = t0 + 55 * 60_000
        yield* TestClock.adjust("55 minutes")
        const second = yield* service.get
        assert.strictEqual(second.accessKeyId, server.issued[1]!.accessKeyId)
        const bearers = server.requests
          .filter((r) => r.route === "portal")
          .map((r) => r.headers["x-amz-sso_bearer_token"])
        assert.deepStrictEqual(bearers, ["first-token", "second-token"])
      }))
      getSuccess(exit)
    }))
})

describe("Sso: credentials with a different lifetime on each fetch", () => {
  it.scoped("the layer refreshes each set ahead of its own expiry (TestClock, 200 simulated minutes)", () =>
    Effect.gen(function*() {
      const t0 = Date.parse("2026-03-01T12:00:00Z")
      yield* TestClock.setTime(t0)
      const clock = yield* Effect.clock
      const minute = 60_000
      // 60, 20, 45, then 90 minutes (the last repeats): refreshes due at about +45, +56, +87 and +163.
      const lifetimes = [60, 20, 45, 90].map((m) => m * minute)
      const home = yield* tempHome
      const server = yield* SsoServer.make({
        now: () => clock.unsafeCurrentTimeMillis(),
        credentialLifetimesMs: lifetimes
      })
      writeConfig(home)
      writeToken(home, "my-sso", { accessToken: "day-token", expiresAt: iso(t0 + 24 * 3600_000), startUrl })
      server.acceptToken("day-token")
      const watch = RefreshWatch.make()
      const exit = yield* runWith(
        // The clock jumps while real requests run: keep the call timeout out of reach.
        Sso.layerWith({ timeout: "1 day" }),
        { env: envFor(home, server) },
        Effect.flatMap(AwsCredentials, (service) => RefreshWatch.sampleEvery(service, watch, "1 minute", 200))
      ).pipe(Effect.withTracer(watch.tracer))
      const samples = getSuccess(exit)

      assert.strictEqual(server.calls.portal, 5)
      assert.strictEqual(watch.started(), 4)
      const fetches = server.issued.map((credentials, i) => ({
        at: credentials.expiration - lifetimes[Math.min(i, lifetimes.length - 1)]!,
        expiresAt: credentials.expiration
      }))
      // Each set lived what the portal said it would this time.
      assert.deepStrictEqual(
        fetches.map((fetch) => (fetch.expiresAt - fetch.at) / minute),
        [60, 20, 45, 90, 90]
      )
      RefreshWatch.assertRefreshedAhead(fetches, samples, minute)
      assert.deepStrictEqual(
        [...new Set(samples.map((sample) => sample.accessKeyId))],
        server.issued.map((credentials) => credentials.accessKeyId)
      )
    }))
})

describe("Sso: a new aws sso login after the token expired", () => {
  it.scoped("get fails with TokenExpired naming the command; a fresh token in the cache brings it back", () =>
    Effect.gen(function*() {
      const t0 = Date.parse("2026-03-01T12:00:00Z")
      yield* TestClock.setTime(t0)
      const clock = yield* Effect.clock
      const home = yield* tempHome
      const server = yield* SsoServer.make({ now: () => clock.unsafeCurrentTimeMillis() })
      writeConfig(home)
      // A token that ends 20 minutes in, without what a refresh needs (as from an older CLI).
      writeToken(home, "my-sso", { accessToken: "first-token", expiresAt: iso(t0 + 20 * 60_000), startUrl })
      server.acceptToken("first-token")
      const watch = RefreshWatch.make()
      const [exit, logs] = yield* withCapturedLogs(runWith(
        Sso.layerWith({ timeout: "1 day" }),
        { env: envFor(home, server) },
        Effect.gen(function*() {
          const service = yield* AwsCredentials
          const first = yield* service.get
          // The role credentials (1 hour) outlive the token; the refreshes from +45 minutes on
          // find it expired, and once the credentials have expired too, get fails.
          yield* TestClock.adjust("61 minutes")
          yield* watch.idle()
          const expired = yield* Effect.flip(service.get)
          const portalCalls = server.calls.portal

          // `aws sso login --sso-session my-sso` writes a new token; the layer is not rebuilt.
          server.revokeToken("first-token")
          server.acceptToken("second-token")
          writeToken(home, "my-sso", {
            accessToken: "second-token",
            expiresAt: iso(clock.unsafeCurrentTimeMillis() + 8 * 3600_000),
            startUrl
          })
          // Past the engine's backoff after the failed refreshes (at most a minute).
          yield* TestClock.adjust("61 seconds")
          yield* watch.idle()
          const recovered = yield* service.get
          return { first, expired, portalCalls, recovered, now: clock.unsafeCurrentTimeMillis() }
        })
      ).pipe(Effect.withTracer(watch.tracer)))
      const { expired, first, now, portalCalls, recovered } = getSuccess(Exit.flatten(exit))

      assert.strictEqual(first.accessKeyId, server.issued[0]!.accessKeyId)
      assert.strictEqual(expired._tag, "CredentialsError")
      assert.strictEqual(expired.reason, "TokenExpired")
      assert.include(expired.message, "run `aws sso login --sso-session my-sso`")
      assert.include(expired.message, `expired at ${new Date(t0 + 20 * 60_000).toISOString()}`)
      // Only the first fetch reached the portal: the expired token is never sent.
      assert.strictEqual(portalCalls, 1)

      assert.strictEqual(recovered.accessKeyId, server.issued[1]!.accessKeyId)
      assert.isTrue(DateTime.toEpochMillis(Option.getOrThrow(recovered.expiration)) > now)
      assert.deepStrictEqual(
        server.requests.filter((r) => r.route === "portal").map((r) => r.headers["x-amz-sso_bearer_token"]),
        ["first-token", "second-token"]
      )
      assert.isTrue(logs.some((line) => line.level === LogLevel.Warning && line.message.includes("refresh failed")))
      for (const line of logs) assertNoSecrets(line.rendered, ["first-token", "second-token"])
    }))
})

describe("SsoProfile.fetchToken and fetchCredentials", () => {
  it.scopedLive("resolveForProfile resolves another profile than the active one", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const server = yield* SsoServer.make()
      writeConfig(home, "[default]\nregion = us-east-1\n")
      writeToken(home, startUrl, { accessToken: "legacy-token", expiresAt: iso(Date.now() + 3600_000) })
      server.acceptToken("legacy-token")
      const credentials = yield* Effect.gen(function*() {
        const session = yield* AwsSession.make()
        assert.strictEqual(session.profileName, "default")
        return yield* SsoProfile.fetchCredentials({ session, profileName: "legacy" })
      }).pipe(withEnv(home.env({ AWS_ENDPOINT_URL_SSO: server.url })), Effect.provide(NodeFileSystem.layer))
      assert.strictEqual(credentials.source, "sso")
      assert.strictEqual(credentials.accessKeyId, server.issued[0]!.accessKeyId)
    }))

  it.scopedLive("resolveToken: the bearer token of an sso_session profile; printing it shows no token", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      writeConfig(home)
      writeToken(home, "my-sso", refreshable(Date.now() + 3600_000))
      const token = yield* Effect.gen(function*() {
        const session = yield* AwsSession.make()
        return yield* SsoProfile.fetchToken({ session, profileName: "dev" })
      }).pipe(withEnv(home.env()), Effect.provide(NodeFileSystem.layer))
      assert.strictEqual(Redacted.value(token.token), "cached-access-token")
      assert.deepStrictEqual(token.sessionName, Option.some("my-sso"))
      assert.notInclude(util.inspect(token, { depth: 5 }), "cached-access-token")
      assert.notInclude(JSON.stringify(token), "cached-access-token")
    }))
})

describe("Sso: secrets", () => {
  it.scopedLive("no token, refresh token, client secret or credential appears in errors or logs", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const server = yield* SsoServer.make()
      writeConfig(home)
      const secrets = ["cached-access-token", "client-secret-value", "refresh-token-value"]
      const scenarios: ReadonlyArray<() => void> = [
        () => writeToken(home, "my-sso", refreshable(Date.now() - 1000)),
        () => {
          writeToken(home, "my-sso", refreshable(Date.now() + 3600_000))
          server.acceptToken("cached-access-token")
          server.inject("portal", SsoServer.Fault.unauthorized)
        },
        () => server.inject("portal", SsoServer.Fault.malformed),
        () => server.inject("portal", SsoServer.Fault.serverError, SsoServer.Fault.serverError),
        () => {
          writeToken(home, "my-sso", refreshable(Date.now() + 60_000))
          server.inject("oidc", SsoServer.Fault.malformed)
          server.inject("portal", SsoServer.Fault.expiredCredentials)
        }
      ]
      for (const scenario of scenarios) {
        scenario()
        const [exit, logs] = yield* withCapturedLogs(resolveWith(layer, { env: envFor(home, server) }))
        const flat = Exit.flatten(exit)
        assert.isTrue(Exit.isFailure(flat))
        const all = [...secrets, ...server.issued.flatMap((c) => [c.secretAccessKey, c.sessionToken])]
        assertNoSecrets(flat, all)
        for (const line of logs) assertNoSecrets(line.rendered, all)
      }
    }))
})
