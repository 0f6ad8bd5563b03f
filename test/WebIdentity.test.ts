/**
 * The `assume-role-with-web-identity` source against a loopback STS: where each setting comes
 * from (botocore's per-setting environment-then-profile rule), partial configuration, the unsigned
 * call, the token file read again at every refresh, and no token in any error.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as TestClock from "effect/TestClock"
import * as fs from "node:fs"
import { AwsCredentials } from "../src/AwsCredentials.js"
import type { CredentialsError } from "../src/CredentialsError.js"
import * as Sts from "../src/internal/sts.js"
import * as WebIdentity from "../src/providers/WebIdentity.js"
import { getFailure, getSuccess, outcomes, resolveWith, runWith, type TempHome, tempHome } from "./support/fixtures.js"
import { metadataServer } from "./support/metadataServer.js"
import { assertNoSecrets } from "./support/secrets.js"
import * as StsServer from "./support/stsServer.js"

const layer = WebIdentity.layerWith({ timeout: "5 seconds", maxAttempts: 1 })

const token = "eyJhbGciOiJSUzI1NiJ9.webIdentityTokenNeverPrinted.c2lnbmF0dXJl"
const envRole = "arn:aws:iam::111111111111:role/FromEnv"
const profileRole = "arn:aws:iam::222222222222:role/FromProfile"

const baseEnv = (home: TempHome, sts: StsServer.StsServer, vars: Record<string, string> = {}) =>
  home.env({ AWS_REGION: "us-east-1", AWS_ENDPOINT_URL_STS: sts.url, ...vars })

const failureOf = <A>(exit: import("effect/Exit").Exit<A, unknown>) => {
  const error = getFailure(exit) as { readonly _tag: string; readonly message: string }
  assert.strictEqual(error._tag, "CredentialsError", error.message)
  return error as CredentialsError
}

describe("WebIdentity", () => {
  it.scoped("from the environment: an unsigned AssumeRoleWithWebIdentity with the file's token", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const sts = yield* StsServer.make()
      const tokenFile = home.write("token", `${token}\n`)
      const env = baseEnv(home, sts, {
        AWS_WEB_IDENTITY_TOKEN_FILE: tokenFile,
        AWS_ROLE_ARN: envRole,
        AWS_ROLE_SESSION_NAME: "pod-42"
      })
      const { attempts, credentials } = getSuccess(yield* resolveWith(layer, { env }))
      const issued = sts.issued[0]!
      const [request] = sts.requests
      assert.strictEqual(request?.action, "AssumeRoleWithWebIdentity")
      assert.isUndefined(request?.headers.authorization)
      assert.isUndefined(request?.sessionToken)
      assert.deepStrictEqual(
        [request?.params.RoleArn, request?.params.RoleSessionName, request?.params.WebIdentityToken],
        [envRole, "pod-42", token]
      )
      assert.strictEqual(credentials.source, "assume-role-with-web-identity")
      assert.strictEqual(credentials.accessKeyId, issued.accessKeyId)
      assert.strictEqual(Redacted.value(credentials.secretAccessKey), issued.secretAccessKey)
      assert.deepStrictEqual(credentials.accountId, Option.some("111111111111"))
      assert.strictEqual(
        credentials.provenance,
        `assume-role-with-web-identity ${envRole} with the token in ${tokenFile} (AWS_WEB_IDENTITY_TOKEN_FILE), ` +
          `via STS us-east-1 (${sts.url} from AWS_ENDPOINT_URL_STS, region from AWS_REGION)`
      )
      assert.deepStrictEqual(outcomes(attempts), [["assume-role-with-web-identity", "resolved"]])
      assertNoSecrets(credentials, [token])
    }))

  it.scoped("from the profile; the session name defaults to botocore-session-<unix time>", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const sts = yield* StsServer.make()
      const tokenFile = home.write("token", token)
      home.writeConfig(`[profile ci]\nrole_arn = ${profileRole}\nweb_identity_token_file = ${tokenFile}\n`)
      const { credentials } = getSuccess(
        yield* resolveWith(layer, { env: baseEnv(home, sts, { AWS_PROFILE: "ci" }) })
      )
      const params = sts.requests[0]?.params
      assert.strictEqual(params?.RoleArn, profileRole)
      assert.match(params?.RoleSessionName ?? "", /^botocore-session-\d+$/)
      assert.include(credentials.provenance, `web_identity_token_file in profile ci (${home.configPath}:3)`)
    }))

  it.scoped("each setting from the environment first, then the profile (they mix, as in botocore)", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const sts = yield* StsServer.make()
      const envToken = home.write("env-token", "env.token.jwt")
      const profileToken = home.write("profile-token", "profile.token.jwt")
      home.writeConfig(
        `[default]\nrole_arn = ${profileRole}\nweb_identity_token_file = ${profileToken}\nrole_session_name = from-profile\n`
      )
      getSuccess(yield* resolveWith(layer, { env: baseEnv(home, sts, { AWS_WEB_IDENTITY_TOKEN_FILE: envToken }) }))
      getSuccess(
        yield* resolveWith(layer, { env: baseEnv(home, sts, { AWS_ROLE_ARN: envRole, AWS_ROLE_SESSION_NAME: "from-env" }) })
      )
      assert.deepStrictEqual(
        sts.requests.map((r) => [r.params.WebIdentityToken, r.params.RoleArn, r.params.RoleSessionName]),
        [
          ["env.token.jwt", profileRole, "from-profile"],
          ["profile.token.jwt", envRole, "from-env"]
        ]
      )
    }))

  it.scoped("a profile named explicitly ignores the environment variables (botocore's disable_env_vars)", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const sts = yield* StsServer.make()
      const envToken = home.write("env-token", "env.token.jwt")
      home.writeConfig("[profile plain]\nregion = us-east-1\n")
      const env = baseEnv(home, sts, { AWS_WEB_IDENTITY_TOKEN_FILE: envToken, AWS_ROLE_ARN: envRole })
      const error = getFailure(yield* resolveWith(layer, { env, session: { profile: "plain" } }))
      assert.strictEqual(error._tag, "CredentialsUnavailable")
      assert.include(error.message, "ignored")
      // AWS_PROFILE does not count as naming the profile explicitly.
      getSuccess(yield* resolveWith(layer, { env: { ...env, AWS_PROFILE: "plain" } }))
      assert.lengthOf(sts.requests, 1)
    }))

  it.scoped("nothing configured is unavailable; a token file without a role ARN is an error", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const sts = yield* StsServer.make()
      const none = getFailure(yield* resolveWith(layer, { env: baseEnv(home, sts) }))
      assert.strictEqual(none._tag, "CredentialsUnavailable")
      assert.include(none.message, "AWS_WEB_IDENTITY_TOKEN_FILE is not set")
      const tokenFile = home.write("token", token)
      const partial = failureOf(
        yield* resolveWith(layer, { env: baseEnv(home, sts, { AWS_WEB_IDENTITY_TOKEN_FILE: tokenFile }) })
      )
      assert.strictEqual(partial.reason, "InvalidConfiguration")
      assert.include(partial.message, "no role ARN")
      assert.include(partial.message, "AWS_ROLE_ARN")
      // A role ARN alone is not web identity configuration.
      const roleOnly = getFailure(yield* resolveWith(layer, { env: baseEnv(home, sts, { AWS_ROLE_ARN: envRole }) }))
      assert.strictEqual(roleOnly._tag, "CredentialsUnavailable")
      assert.lengthOf(sts.requests, 0)
    }))

  it.scoped("a missing or empty token file is TokenMissing naming the file", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const sts = yield* StsServer.make()
      const missing = `${home.dir}/nope/token`
      const empty = home.write("empty", "\n")
      for (const file of [missing, empty]) {
        const error = failureOf(
          yield* resolveWith(layer, {
            env: baseEnv(home, sts, { AWS_WEB_IDENTITY_TOKEN_FILE: file, AWS_ROLE_ARN: envRole })
          })
        )
        assert.strictEqual(error.reason, "TokenMissing")
        assert.strictEqual(error.path, file)
      }
      assert.lengthOf(sts.requests, 0)
    }))

  it.scoped("a session name shorter than 2 characters is refused before calling STS (as botocore does)", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const sts = yield* StsServer.make()
      const tokenFile = home.write("token", token)
      const error = failureOf(
        yield* resolveWith(layer, {
          env: baseEnv(home, sts, {
            AWS_WEB_IDENTITY_TOKEN_FILE: tokenFile,
            AWS_ROLE_ARN: envRole,
            AWS_ROLE_SESSION_NAME: "x"
          })
        })
      )
      assert.strictEqual(error.reason, "InvalidConfiguration")
      assert.include(error.message, "from AWS_ROLE_SESSION_NAME must be 2 to 64 characters")
      assert.lengthOf(sts.requests, 0)
    }))

  it.scoped("STS refusing the token: ServiceError with the code, region and endpoint, never the token", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const sts = yield* StsServer.make()
      const tokenFile = home.write("token", token)
      const env = baseEnv(home, sts, { AWS_WEB_IDENTITY_TOKEN_FILE: tokenFile, AWS_ROLE_ARN: envRole })
      for (
        const [fault, text] of [
          [StsServer.Fault.invalidIdentityToken, "InvalidIdentityToken (HTTP 400)"],
          [StsServer.Fault.error(400, "ExpiredTokenException", `Token expired: ${token}`), "ExpiredTokenException"],
          [StsServer.Fault.accessDenied, "AccessDenied (HTTP 403)"]
        ] as const
      ) {
        sts.inject(fault)
        const exit = yield* resolveWith(layer, { env })
        const error = failureOf(exit)
        assert.strictEqual(error.reason, "ServiceError")
        assert.include(error.message, text)
        assert.include(error.message, `STS in us-east-1 (${sts.url}, AWS_ENDPOINT_URL_STS)`)
        assert.include(error.message, "AssumeRoleWithWebIdentity")
        assertNoSecrets(exit, [token])
      }
    }))

  it.scoped("the token file is read again at every refresh", () =>
    Effect.gen(function*() {
      const start = Date.parse("2030-06-01T00:00:00Z")
      yield* TestClock.setTime(start)
      let now = start
      const home = yield* tempHome
      const sts = yield* StsServer.make({ now: () => now })
      const tokenFile = home.write("token", "first.token.jwt")
      const env = baseEnv(home, sts, { AWS_WEB_IDENTITY_TOKEN_FILE: tokenFile, AWS_ROLE_ARN: envRole })
      // A long STS timeout: the TestClock jump must not time out a call in flight.
      const patient = WebIdentity.layerWith({ timeout: "1 day", maxAttempts: 1 })
      const exit = yield* runWith(patient, { env }, Effect.gen(function*() {
        const service = yield* AwsCredentials
        const first = yield* service.get
        fs.writeFileSync(tokenFile, "second.token.jwt")
        now = start + 55 * 60_000
        yield* TestClock.setTime(now)
        const second = yield* service.get
        return [first, second] as const
      }))
      const [first, second] = getSuccess(exit)
      assert.notStrictEqual(first.accessKeyId, second.accessKeyId)
      assert.deepStrictEqual(
        sts.requests.map((r) => r.params.WebIdentityToken),
        ["first.token.jwt", "second.token.jwt"]
      )
    }))
})

describe("WebIdentity: the STS region (configured only) and the global endpoint without one", () => {
  it.scoped("no region: https://sts.amazonaws.com, whatever sts_regional_endpoints says (botocore)", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const sts = yield* StsServer.make()
      // The client addresses the real global endpoint; the interceptor delivers to the loopback fake.
      const intercepted = StsServer.interceptor(sts)
      const intercepting = layer.pipe(Layer.provide(Layer.succeed(Sts.RequestHandler, intercepted.handler)))
      const tokenFile = home.write("token", token)
      const modes = [{}, { AWS_STS_REGIONAL_ENDPOINTS: "regional" }, { AWS_STS_REGIONAL_ENDPOINTS: "legacy" }]
      for (const mode of modes) {
        const env = home.env({ AWS_WEB_IDENTITY_TOKEN_FILE: tokenFile, AWS_ROLE_ARN: envRole, ...mode })
        const { credentials } = getSuccess(yield* resolveWith(intercepting, { env }))
        assert.strictEqual(
          credentials.provenance,
          `assume-role-with-web-identity ${envRole} with the token in ${tokenFile} (AWS_WEB_IDENTITY_TOKEN_FILE), ` +
            "via STS us-east-1 (global endpoint, no region configured)"
        )
      }
      assert.deepStrictEqual(intercepted.addressed, modes.map(() => "https://sts.amazonaws.com/"))
      assert.deepStrictEqual(
        sts.requests.map((request) => [request.action, request.headers.host, request.headers.authorization]),
        modes.map(() => ["AssumeRoleWithWebIdentity", "sts.amazonaws.com", undefined])
      )
    }))

  it.scoped("no region with an endpoint_url in the profile: that endpoint (as botocore does)", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const sts = yield* StsServer.make()
      const tokenFile = home.write("token", token)
      home.writeConfig(`[profile ci]\nrole_arn = ${profileRole}\nweb_identity_token_file = ${tokenFile}\nendpoint_url = ${sts.url}\n`)
      const { credentials } = getSuccess(yield* resolveWith(layer, { env: home.env({ AWS_PROFILE: "ci" }) }))
      assert.lengthOf(sts.calls("AssumeRoleWithWebIdentity"), 1)
      assert.strictEqual(credentials.accessKeyId, sts.issued[0]?.accessKeyId)
      assert.isTrue(
        credentials.provenance.endsWith(
          `, via STS us-east-1 (${sts.url} from endpoint_url of profile ci (${home.configPath}:4), no region configured)`
        ),
        credentials.provenance
      )
    }))

  it.scoped("the instance metadata service is never asked for the STS region, even when it is on and knows one", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const sts = yield* StsServer.make()
      const metadata = yield* metadataServer({ region: "ap-southeast-2" })
      const intercepted = StsServer.interceptor(sts)
      const intercepting = layer.pipe(Layer.provide(Layer.succeed(Sts.RequestHandler, intercepted.handler)))
      const tokenFile = home.write("token", token)
      const env = home.env({
        AWS_WEB_IDENTITY_TOKEN_FILE: tokenFile,
        AWS_ROLE_ARN: envRole,
        AWS_EC2_METADATA_DISABLED: "false",
        AWS_EC2_METADATA_SERVICE_ENDPOINT: metadata.url
      })
      getSuccess(yield* resolveWith(intercepting, { env }))
      assert.lengthOf(metadata.requests, 0)
      assert.deepStrictEqual(intercepted.addressed, ["https://sts.amazonaws.com/"])
    }))
})
