import { assert, describe, it } from "@effect/vitest"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import * as AwsSession from "../src/AwsSession.js"
import type { CredentialsError } from "../src/CredentialsError.js"
import * as LoginProfile from "../src/internal/loginProfile.js"
import * as Login from "../src/providers/LoginCredentials.js"
import {
  type Env,
  getFailure,
  getSuccess,
  outcomes,
  resolveWith,
  type TempHome,
  tempHome,
  withCapturedLogs,
  withEnv
} from "./support/fixtures.js"
import { assertNoSecrets } from "./support/secrets.js"
import * as SsoServer from "./support/ssoServer.js"

const loginSession = "arn:aws:sts::012345678910:assumed-role/Admin/admin"
const cacheName = `${crypto.createHash("sha256").update(loginSession).digest("hex")}.json`

const layer = Login.layerWith({ timeout: "2 seconds", maxAttempts: 2 })

const dpopKey = crypto.generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({
  format: "pem",
  type: "sec1"
}) as string

const iso = (ms: number) => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(".000Z", "Z")

const session = (expiresAt: number, overrides: Record<string, unknown> = {}) => ({
  accessToken: {
    accessKeyId: "ASIACACHED",
    secretAccessKey: "cached-secret-key",
    sessionToken: "cached-session-token",
    accountId: "012345678910",
    expiresAt: iso(expiresAt)
  },
  clientId: "arn:aws:signin:::devtools/same-device",
  refreshToken: "login-refresh-token-value",
  idToken: "header.payload.signature",
  dpopKey,
  somethingNewer: "kept",
  ...overrides
})

/** What must never be printed. */
const secrets = ["cached-secret-key", "cached-session-token", "login-refresh-token-value", "PRIVATE KEY"]

const writeConfig = (home: TempHome, extra = "") =>
  home.writeConfig(`[profile signin]\nlogin_session = ${loginSession}\nregion = us-east-1\n${extra}`)

const writeSession = (home: TempHome, content: unknown, dir = path.join(".aws", "login", "cache")): string =>
  home.write(path.join(dir, cacheName), typeof content === "string" ? content : JSON.stringify(content))

const envFor = (home: TempHome, server: SsoServer.SsoServer, vars: Env = {}) =>
  home.env({ AWS_PROFILE: "signin", AWS_ENDPOINT_URL_SIGNIN: server.url, ...vars })

const failureOf = (exit: Exit.Exit<unknown, unknown>): CredentialsError => {
  const error = getFailure(exit) as { _tag: string }
  assert.strictEqual(error._tag, "CredentialsError", String(error))
  return error as CredentialsError
}

describe("Login: configured or not", () => {
  it.scopedLive("unavailable without login_session; an empty one is an error", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      home.writeConfig("[default]\nregion = us-east-1\n\n[profile empty]\nlogin_session =\n")
      const unavailable = getFailure(yield* resolveWith(layer, { env: home.env() }))
      assert.strictEqual(unavailable._tag, "CredentialsUnavailable")
      if (unavailable._tag === "CredentialsUnavailable") {
        assert.strictEqual(unavailable.reason, "NotConfigured")
        assert.strictEqual(unavailable.detail, "profile default has no login_session")
      }
      const empty = failureOf(yield* resolveWith(layer, { env: home.env({ AWS_PROFILE: "empty" }) }))
      assert.strictEqual(empty.reason, "InvalidConfiguration")
      assert.include(empty.message, "aws login --profile empty")
    }))

  it.scopedLive("valid cached credentials are used as they are, with no call", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const server = yield* SsoServer.make()
      writeConfig(home)
      const expiresAt = Date.now() + 10 * 60_000
      const file = writeSession(home, session(expiresAt))
      const { attempts, credentials } = getSuccess(yield* resolveWith(layer, { env: envFor(home, server) }))
      assert.strictEqual(credentials.source, "login")
      assert.strictEqual(credentials.accessKeyId, "ASIACACHED")
      assert.strictEqual(Redacted.value(credentials.secretAccessKey), "cached-secret-key")
      assert.deepStrictEqual(Option.map(credentials.sessionToken, Redacted.value), Option.some("cached-session-token"))
      assert.deepStrictEqual(credentials.accountId, Option.some("012345678910"))
      assert.deepStrictEqual(
        Option.map(credentials.expiration, DateTime.toEpochMillis),
        Option.some(Math.floor(expiresAt / 1000) * 1000)
      )
      assert.strictEqual(credentials.provenance, `profile signin: aws login session (${file})`)
      assert.deepStrictEqual(outcomes(attempts), [["login", "resolved"]])
      assert.strictEqual(server.calls.signin, 0)
    }))

  it.scopedLive("AWS_LOGIN_CACHE_DIRECTORY moves the cache", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const server = yield* SsoServer.make()
      writeConfig(home)
      writeSession(home, session(Date.now() + 3600_000), "elsewhere")
      const { credentials } = getSuccess(
        yield* resolveWith(layer, { env: envFor(home, server, { AWS_LOGIN_CACHE_DIRECTORY: "~/elsewhere" }) })
      )
      assert.strictEqual(credentials.accessKeyId, "ASIACACHED")
    }))
})

describe("Login: missing, expired or broken sessions", () => {
  it.scopedLive("no cache file: TokenMissing saying to run aws login --profile", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const server = yield* SsoServer.make()
      writeConfig(home)
      const error = failureOf(yield* resolveWith(layer, { env: envFor(home, server) }))
      assert.strictEqual(error.reason, "TokenMissing")
      assert.strictEqual(error.path, path.join(home.dir, ".aws", "login", "cache", cacheName))
      assert.include(error.message, "run `aws login --profile signin`")
    }))

  it.scopedLive("a refresh refused (TOKEN_EXPIRED) for expired credentials: TokenExpired with the command", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const server = yield* SsoServer.make()
      writeConfig(home)
      writeSession(home, session(Date.now() - 60_000))
      const error = failureOf(yield* resolveWith(layer, { env: envFor(home, server) }))
      assert.strictEqual(error.reason, "TokenExpired")
      assert.include(error.message, "AccessDeniedException TOKEN_EXPIRED (HTTP 401)")
      assert.include(error.message, "run `aws login --profile signin`")
      assert.strictEqual(server.calls.signin, 1)
      assert.isUndefined(server.requests[0]?.dpopProblem)
    }))

  it.scopedLive("fields missing, bad JSON or a bad dpopKey: MalformedFile naming the file, never the values", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const server = yield* SsoServer.make()
      writeConfig(home)
      const { dpopKey: _, refreshToken: __, ...partial } = session(Date.now() + 3600_000)
      for (
        const [content, problem] of [
          [partial, "refreshToken is missing; dpopKey is missing"],
          ["{\"accessToken\": {\"secretAccessKey\": \"cached-secret-key", "is not valid JSON"],
          [
            session(Date.now() - 1000, { dpopKey: "-----BEGIN EC PRIVATE KEY-----\nnope\n-----END EC PRIVATE KEY-----\n" }),
            "dpopKey is not a PEM private key"
          ],
          [
            session(Date.now() - 1000, {
              dpopKey: crypto.generateKeyPairSync("ec", { namedCurve: "P-384" }).privateKey.export({
                format: "pem",
                type: "sec1"
              })
            }),
            "dpopKey is not an EC P-256 private key"
          ]
        ] as const
      ) {
        const file = writeSession(home, content)
        const error = failureOf(yield* resolveWith(layer, { env: envFor(home, server) }))
        assert.strictEqual(error.reason, "MalformedFile")
        assert.strictEqual(error.path, file)
        assert.include(error.message, problem)
        assert.include(error.message, "aws login --profile signin")
        for (const secret of ["cached-secret-key", "login-refresh-token-value", "PRIVATE KEY"]) {
          assert.notInclude(error.message, secret)
        }
      }
      assert.strictEqual(server.calls.signin, 0)
    }))

  it.scopedLive("no region for the sign-in service and no endpoint: an error before any call", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      home.writeConfig(`[profile signin]\nlogin_session = ${loginSession}\n`)
      writeSession(home, session(Date.now() - 60_000))
      const error = failureOf(yield* resolveWith(layer, { env: home.env({ AWS_PROFILE: "signin" }) }))
      assert.strictEqual(error.reason, "InvalidConfiguration")
      assert.include(error.message, "no region is set for the sign-in service")
    }))
})

describe("Login: refresh", () => {
  it.scopedLive("within 5 minutes of expiry: CreateOAuth2Token with DPoP, the cache rewritten atomically", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const server = yield* SsoServer.make()
      writeConfig(home)
      const file = writeSession(home, session(Date.now() + 2 * 60_000))
      fs.chmodSync(file, 0o644)
      server.registerLogin({
        clientId: "arn:aws:signin:::devtools/same-device",
        refreshToken: "login-refresh-token-value"
      })
      const started = Date.now()
      const { credentials } = getSuccess(yield* resolveWith(layer, { env: envFor(home, server) }))
      assert.strictEqual(server.calls.signin, 1)
      const request = server.requests[0]!
      assert.isUndefined(request.dpopProblem)
      assert.deepStrictEqual(request.body, {
        clientId: "arn:aws:signin:::devtools/same-device",
        grantType: "refresh_token",
        refreshToken: "login-refresh-token-value"
      })
      assert.match(credentials.accessKeyId, /^ASIALOGIN/)
      assert.include(credentials.provenance, "refreshed")
      const written = JSON.parse(fs.readFileSync(file, "utf8"))
      assert.strictEqual(written.accessToken.accessKeyId, credentials.accessKeyId)
      assert.strictEqual(written.accessToken.secretAccessKey, Redacted.value(credentials.secretAccessKey))
      assert.strictEqual(written.accessToken.accountId, "012345678910")
      assert.match(written.refreshToken, /^login-refresh-/)
      assert.strictEqual(written.dpopKey, dpopKey)
      assert.strictEqual(written.idToken, "header.payload.signature")
      assert.strictEqual(written.somethingNewer, "kept")
      const expiresAt = Date.parse(written.accessToken.expiresAt)
      assert.isAtLeast(expiresAt, Math.floor(started / 1000) * 1000 + 900_000)
      assert.isAtMost(expiresAt, Date.now() + 900_000)
      assert.strictEqual(fs.statSync(file).mode & 0o777, 0o600)
      assert.deepStrictEqual(fs.readdirSync(path.dirname(file)), [cacheName])

      // The rotated refresh token is the one used next time.
      const expired = { ...written, accessToken: { ...written.accessToken, expiresAt: iso(Date.now() - 1000) } }
      fs.writeFileSync(file, JSON.stringify(expired))
      getSuccess(yield* resolveWith(layer, { env: envFor(home, server) }))
      assert.strictEqual(server.calls.signin, 2)
      assert.strictEqual((server.requests[1]!.body as { refreshToken: string }).refreshToken, written.refreshToken)
    }))

  it.scopedLive("a session written by aws login while the refresh runs is kept, not overwritten", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const server = yield* SsoServer.make()
      writeConfig(home)
      const file = writeSession(home, session(Date.now() + 2 * 60_000))
      server.registerLogin({
        clientId: "arn:aws:signin:::devtools/same-device",
        refreshToken: "login-refresh-token-value"
      })
      server.inject("signin", SsoServer.Fault.slow(600))
      const newer = JSON.stringify(session(Date.now() + 3600_000, { refreshToken: "from-a-new-login" }))
      yield* Effect.fork(Effect.delay(Effect.sync(() => fs.writeFileSync(file, newer)), "200 millis"))
      const { credentials } = getSuccess(yield* resolveWith(layer, { env: envFor(home, server) }))
      assert.match(credentials.accessKeyId, /^ASIALOGIN/)
      assert.strictEqual(fs.readFileSync(file, "utf8"), newer)
    }))

  it.scopedLive("a failed refresh while the credentials are still valid: they are served, with a warning", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const server = yield* SsoServer.make()
      writeConfig(home)
      const file = writeSession(home, session(Date.now() + 2 * 60_000))
      const before = fs.readFileSync(file, "utf8")
      server.inject("signin", SsoServer.Fault.serverError, SsoServer.Fault.drop)
      const [exit, logs] = yield* withCapturedLogs(resolveWith(layer, { env: envFor(home, server) }))
      const { credentials } = getSuccess(Exit.flatten(exit))
      assert.strictEqual(credentials.accessKeyId, "ASIACACHED")
      assert.strictEqual(server.calls.signin, 2)
      assert.strictEqual(fs.readFileSync(file, "utf8"), before)
      const warning = logs.find((line) => line.message.includes("aws login session refresh failed"))
      assert.isDefined(warning)
      for (const line of logs) {
        for (const secret of secrets) assert.notInclude(line.rendered, secret)
      }
    }))

  it.scopedLive("slow, malformed or incomplete answers for expired credentials: Timeout / InvalidResponse", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const server = yield* SsoServer.make()
      writeConfig(home)
      writeSession(home, session(Date.now() - 1000))
      const quick = Login.layerWith({ timeout: "300 millis", maxAttempts: 1 })
      server.inject("signin", SsoServer.Fault.slow(3000))
      const slow = failureOf(yield* resolveWith(quick, { env: envFor(home, server) }))
      assert.strictEqual(slow.reason, "Timeout")
      assert.include(slow.message, "expired at")
      server.inject("signin", SsoServer.Fault.malformed)
      assert.strictEqual(failureOf(yield* resolveWith(quick, { env: envFor(home, server) })).reason, "InvalidResponse")
      server.inject("signin", SsoServer.Fault.respond(200, { accessToken: { accessKeyId: "ASIAX" }, expiresIn: 900 }))
      const partial = failureOf(yield* resolveWith(quick, { env: envFor(home, server) }))
      assert.strictEqual(partial.reason, "InvalidResponse")
      assert.include(partial.message, "accessToken.secretAccessKey is missing")
      assert.notInclude(partial.message, "ASIAX")
    }))

  it.scopedLive("an aws login while the program runs is picked up at the next fetch", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const server = yield* SsoServer.make()
      writeConfig(home)
      writeSession(home, session(Date.now() + 3600_000))
      const resolveOnce = Effect.gen(function*() {
        const awsSession = yield* AwsSession.make()
        return yield* LoginProfile.fetchCredentials({ session: awsSession, profileName: "signin" })
      }).pipe(withEnv(envFor(home, server)), Effect.provide(NodeFileSystem.layer))
      assert.strictEqual((yield* resolveOnce).accessKeyId, "ASIACACHED")
      const later = Date.now() + 3600_000
      writeSession(home, session(later, { accessToken: { ...session(later).accessToken, accessKeyId: "ASIANEWLOGIN" } }))
      assert.strictEqual((yield* resolveOnce).accessKeyId, "ASIANEWLOGIN")
    }))
})

describe("Login: DPoP proofs", () => {
  it.effect("are ES256 JWTs over the session key, bound to the method and URL", () =>
    Effect.gen(function*() {
      const internal = yield* Effect.promise(() => import("../src/internal/login.js"))
      const key = internal.loadDpopKey(dpopKey)
      assert.isTrue(Either.isRight(key))
      if (Either.isLeft(key)) return
      const url = "https://us-east-1.signin.aws.amazon.com/v1/token"
      const proof = internal.dpopProof(key.right, "POST", url, 1763510400)
      assert.isUndefined(SsoServer.verifyDpop(proof, "POST", url))
      assert.strictEqual(
        SsoServer.verifyDpop(proof, "POST", "https://elsewhere/v1/token"),
        "htu is https://us-east-1.signin.aws.amazon.com/v1/token, not https://elsewhere/v1/token"
      )
      const [header, payload] = proof.split(".").slice(0, 2).map((part) =>
        JSON.parse(Buffer.from(part, "base64url").toString())
      )
      assert.deepStrictEqual(Object.keys(header).sort(), ["alg", "jwk", "typ"])
      assert.strictEqual(payload.iat, 1763510400)
      assert.notInclude(JSON.stringify(header), "\"d\"")
    }))
})

describe("Login: secrets", () => {
  it.scopedLive("no secret key, session token, refresh token or DPoP key in errors", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const server = yield* SsoServer.make()
      writeConfig(home)
      writeSession(home, session(Date.now() - 1000))
      for (const fault of [SsoServer.Fault.loginExpired, SsoServer.Fault.malformed, SsoServer.Fault.serverError]) {
        server.inject("signin", fault, fault)
        const exit = yield* resolveWith(layer, { env: envFor(home, server) })
        assert.isTrue(Exit.isFailure(exit))
        assertNoSecrets(exit, [...secrets, "header.payload"])
      }
    }))
})
