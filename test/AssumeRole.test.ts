/**
 * The `assume-role` source against a loopback STS (test/support/stsServer.ts): chains of any
 * length from every kind of root, the request each step sends, provenance, MFA, errors with
 * their reasons and where they happened, refresh re-running the chain, and no secret in any
 * error.
 */
import { assert, describe, it } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Ref from "effect/Ref"
import * as TestClock from "effect/TestClock"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { AwsCredentials } from "../src/AwsCredentials.js"
import * as AwsRegion from "../src/AwsRegion.js"
import * as AwsSession from "../src/AwsSession.js"
import * as CredentialChain from "../src/CredentialChain.js"
import { CredentialsError, CredentialsUnavailable } from "../src/CredentialsError.js"
import * as Sts from "../src/internal/sts.js"
import * as MfaTokenProvider from "../src/MfaTokenProvider.js"
import * as AssumeRole from "../src/providers/AssumeRole.js"
import {
  getFailure,
  getSuccess,
  outcomes,
  platformLayer,
  processJson,
  resolveWith,
  runWith,
  shellQuote,
  type TempHome,
  tempHome,
  withCapturedLogs,
  withEnv
} from "./support/fixtures.js"
import { metadataServer } from "./support/metadataServer.js"
import { assertNoSecrets } from "./support/secrets.js"
import * as SsoServer from "./support/ssoServer.js"
import * as StsServer from "./support/stsServer.js"

const layer = AssumeRole.layerWith({ timeout: "5 seconds", maxAttempts: 1 })

const baseSecret = "baseSecretKeyNeverPrinted0000000000000001"
const baseKeys = `aws_access_key_id = AKIABASE\naws_secret_access_key = ${baseSecret}\n`
const roleA = "arn:aws:iam::111111111111:role/RoleA"
const roleB = "arn:aws:iam::222222222222:role/RoleB"

/** Writes the files and returns the environment: profile dev, region us-east-1, STS on loopback. */
const setup = (
  home: TempHome,
  sts: StsServer.StsServer,
  files: { readonly config: string; readonly credentials?: string },
  env: Record<string, string> = {}
) => {
  home.writeConfig(files.config)
  if (files.credentials !== undefined) home.writeCredentials(files.credentials)
  return home.env({ AWS_PROFILE: "dev", AWS_REGION: "us-east-1", AWS_ENDPOINT_URL_STS: sts.url, ...env })
}

/** An SSO profile `portal` (with its `[sso-session corp]`), the root of chains in these tests. */
const ssoPortalProfile = [
  "[profile portal]",
  "sso_session = corp",
  "sso_account_id = 123456789012",
  "sso_role_name = Dev",
  "[sso-session corp]",
  "sso_region = us-east-1",
  "sso_start_url = https://corp.awsapps.com/start"
]

const isoOf = (ms: number) => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(".000Z", "Z")

/** An SSO token for `[sso-session corp]` in the cache (`sha1("corp").json`). */
const writeSsoToken = (home: TempHome, token: Record<string, unknown>) =>
  home.write(
    path.join(".aws", "sso", "cache", `${crypto.createHash("sha1").update("corp").digest("hex")}.json`),
    JSON.stringify({ startUrl: "https://corp.awsapps.com/start", region: "us-east-1", ...token })
  )

const loginSession = "arn:aws:sts::123456789012:assumed-role/Console/me"

/** An `aws login` cache entry for `loginSession` whose credentials are fresh until `expiresAt`. */
const writeLoginCache = (home: TempHome, expiresAt: number) =>
  home.write(
    path.join(".aws", "login", "cache", `${crypto.createHash("sha256").update(loginSession).digest("hex")}.json`),
    JSON.stringify({
      accessToken: {
        accessKeyId: "ASIACONSOLE",
        secretAccessKey: "console-secret-key",
        sessionToken: "console-session-token",
        accountId: "123456789012",
        expiresAt: isoOf(expiresAt)
      },
      clientId: "arn:aws:signin:::devtools/same-device",
      refreshToken: "console-refresh-token",
      idToken: "header.payload.signature",
      dpopKey: crypto.generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ format: "pem", type: "sec1" })
    })
  )

const failureOf = <A>(exit: import("effect/Exit").Exit<A, CredentialsError | CredentialsUnavailable>) => {
  const error = getFailure(exit)
  assert.strictEqual(error._tag, "CredentialsError", error.message)
  return error as CredentialsError
}

/** How `setup`'s STS is reached, as the provenance ends: the loopback fake, region us-east-1 from AWS_REGION. */
const viaFake = (sts: StsServer.StsServer) =>
  `, via STS us-east-1 (${sts.url} from AWS_ENDPOINT_URL_STS, region from AWS_REGION)`

/** Every secret the fake STS handed out, plus the given ones. */
const secretsOf = (sts: StsServer.StsServer, more: ReadonlyArray<string> = []) => [
  ...sts.issued.flatMap((issued) => [issued.secretAccessKey, issued.sessionToken]),
  ...more
]

describe("AssumeRole: chains", () => {
  it.scoped("static keys -> role: signs with the source keys, returns the role's credentials", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const sts = yield* StsServer.make()
      const env = setup(home, sts, {
        config: `[profile dev]\nrole_arn = ${roleA}\nsource_profile = base\n`,
        credentials: `[base]\n${baseKeys}`
      })
      const { attempts, credentials } = getSuccess(yield* resolveWith(layer, { env }))
      const issued = sts.issued[0]!
      assert.strictEqual(credentials.source, "assume-role")
      assert.strictEqual(credentials.accessKeyId, issued.accessKeyId)
      assert.strictEqual(Redacted.value(credentials.secretAccessKey), issued.secretAccessKey)
      assert.deepStrictEqual(Option.map(credentials.sessionToken, Redacted.value), Option.some(issued.sessionToken))
      assert.deepStrictEqual(Option.map(credentials.expiration, DateTime.toEpochMillis), Option.some(issued.expiration))
      assert.deepStrictEqual(credentials.accountId, Option.some("111111111111"))
      assert.strictEqual(
        credentials.provenance,
        `profile dev -> assume-role ${roleA} -> profile base (shared-credentials-file ${home.credentialsPath}:2)` +
          viaFake(sts)
      )
      assert.deepStrictEqual(outcomes(attempts), [["assume-role", "resolved"]])

      const [request] = sts.calls("AssumeRole")
      assert.strictEqual(request?.accessKeyId, "AKIABASE")
      assert.strictEqual(request?.signingRegion, "us-east-1")
      assert.isUndefined(request?.sessionToken)
      assert.strictEqual(request?.params.RoleArn, roleA)
      assert.match(request?.params.RoleSessionName ?? "", /^botocore-session-\d+$/)
      assert.isUndefined(request?.params.DurationSeconds)
      assert.isUndefined(request?.params.ExternalId)
    }))

  it.scoped("static -> role -> role: each step signs with the credentials of the step before", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const sts = yield* StsServer.make()
      const env = setup(home, sts, {
        config: [
          "[profile dev]",
          `role_arn = ${roleA}`,
          "source_profile = mid",
          "[profile mid]",
          `role_arn = ${roleB}`,
          "source_profile = base",
          "[profile base]",
          baseKeys
        ].join("\n")
      })
      const { credentials } = getSuccess(yield* resolveWith(layer, { env }))
      const [first, second] = sts.calls("AssumeRole")
      assert.strictEqual(first?.params.RoleArn, roleB)
      assert.strictEqual(first?.accessKeyId, "AKIABASE")
      assert.strictEqual(second?.params.RoleArn, roleA)
      assert.strictEqual(second?.accessKeyId, sts.issued[0]?.accessKeyId)
      assert.strictEqual(second?.sessionToken, sts.issued[0]?.sessionToken)
      assert.strictEqual(credentials.accessKeyId, sts.issued[1]?.accessKeyId)
      assert.strictEqual(
        credentials.provenance,
        `profile dev -> assume-role ${roleA} -> profile mid -> assume-role ${roleB} -> ` +
          `profile base (config-file ${home.configPath}:8)${viaFake(sts)}`
      )
    }))

  it.scoped("role_session_name, external_id and duration_seconds are sent", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const sts = yield* StsServer.make()
      const env = setup(home, sts, {
        config: [
          "[profile dev]",
          `role_arn = ${roleA}`,
          "source_profile = base",
          "role_session_name = alice@example.com",
          "external_id = ext-123",
          "duration_seconds = 900",
          "[profile base]",
          baseKeys
        ].join("\n")
      })
      const { credentials } = getSuccess(yield* resolveWith(layer, { env }))
      const params = sts.calls("AssumeRole")[0]?.params
      assert.strictEqual(params?.RoleSessionName, "alice@example.com")
      assert.strictEqual(params?.ExternalId, "ext-123")
      assert.strictEqual(params?.DurationSeconds, "900")
      assert.isTrue(Option.isSome(credentials.expiration))
    }))

  it.scoped("a duration_seconds that is not an integer is ignored with a warning, as botocore does", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const sts = yield* StsServer.make()
      const env = setup(home, sts, {
        config: `[profile dev]\nrole_arn = ${roleA}\nsource_profile = base\nduration_seconds = an hour\n[profile base]\n${baseKeys}`
      })
      const [exit, lines] = yield* withCapturedLogs(resolveWith(layer, { env }))
      assert.isTrue(exit._tag === "Success" && exit.value._tag === "Success")
      assert.isUndefined(sts.calls("AssumeRole")[0]?.params.DurationSeconds)
      assert.isTrue(lines.some((line) => line.message.includes("duration_seconds") && line.level._tag === "Warning"))
    }))

  it.scoped("a role_session_name STS would refuse is reported with the profile", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const sts = yield* StsServer.make()
      const env = setup(home, sts, {
        config: `[profile dev]\nrole_arn = ${roleA}\nsource_profile = base\nrole_session_name = x\n[profile base]\n${baseKeys}`
      })
      const error = failureOf(yield* resolveWith(layer, { env }))
      assert.strictEqual(error.reason, "InvalidConfiguration")
      assert.strictEqual(error.profile, "dev")
      assert.include(error.message, "role_session_name must be 2 to 64 characters")
      assert.lengthOf(sts.requests, 0)
    }))

  it.scoped("self-referencing profile: its own keys are the root", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const sts = yield* StsServer.make()
      const env = setup(home, sts, {
        config: "[profile dev]\n",
        credentials: `[dev]\n${baseKeys}role_arn = ${roleA}\nsource_profile = dev\n`
      })
      const { credentials } = getSuccess(yield* resolveWith(layer, { env }))
      assert.strictEqual(sts.calls("AssumeRole")[0]?.accessKeyId, "AKIABASE")
      assert.strictEqual(
        credentials.provenance,
        `profile dev -> assume-role ${roleA} -> profile dev (shared-credentials-file ${home.credentialsPath}:2)` +
          viaFake(sts)
      )
    }))

  it.scoped("credential_source = Environment signs with the environment's keys, even with a named profile", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const sts = yield* StsServer.make()
      const env = setup(
        home,
        sts,
        { config: `[profile dev]\nrole_arn = ${roleA}\ncredential_source = Environment\n` },
        { AWS_ACCESS_KEY_ID: "AKIAENV", AWS_SECRET_ACCESS_KEY: "env-secret-never-printed", AWS_SESSION_TOKEN: "env-token" }
      )
      const { credentials } = getSuccess(yield* resolveWith(layer, { env, session: { profile: "dev" } }))
      const request = sts.calls("AssumeRole")[0]
      assert.strictEqual(request?.accessKeyId, "AKIAENV")
      assert.strictEqual(request?.sessionToken, "env-token")
      assert.strictEqual(
        credentials.provenance,
        `profile dev -> assume-role ${roleA} -> credential_source Environment ` +
          `(environment variables AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN)${viaFake(sts)}`
      )
    }))

  it.scoped("credential_source = Environment without keys in the environment is an error naming the setting", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const sts = yield* StsServer.make()
      const env = setup(home, sts, { config: `[profile dev]\nrole_arn = ${roleA}\ncredential_source = Environment\n` })
      const error = failureOf(yield* resolveWith(layer, { env }))
      assert.strictEqual(error.reason, "InvalidConfiguration")
      assert.include(error.message, `credential_source = Environment in profile dev (${home.configPath}:3)`)
      assert.include(error.message, "AWS_ACCESS_KEY_ID is not set")
      assert.lengthOf(sts.requests, 0)
    }))

  it.scoped("credential_process at the root runs the process and signs with its output", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const sts = yield* StsServer.make()
      const script = home.script(
        "creds.sh",
        `printf '%s' ${
          shellQuote(processJson({ AccessKeyId: "AKIAPROC", SecretAccessKey: "proc-secret", SessionToken: "proc-token" }))
        }`
      )
      const env = setup(home, sts, {
        config: `[profile dev]\nrole_arn = ${roleA}\nsource_profile = tool\n[profile tool]\ncredential_process = ${script}\n`
      })
      const { credentials } = getSuccess(yield* resolveWith(layer, { env }))
      assert.strictEqual(sts.calls("AssumeRole")[0]?.accessKeyId, "AKIAPROC")
      assert.strictEqual(sts.calls("AssumeRole")[0]?.sessionToken, "proc-token")
      assert.strictEqual(
        credentials.provenance,
        `profile dev -> assume-role ${roleA} -> credential_process "${script}" of profile tool (${home.configPath}:5)` +
          viaFake(sts)
      )
    }))

  it.scoped("a failing credential_process at the root fails the chain with its reason, from assume-role", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const sts = yield* StsServer.make()
      const script = home.script("fail.sh", "echo 'no session' >&2\nexit 3")
      const env = setup(home, sts, {
        config: `[profile dev]\nrole_arn = ${roleA}\nsource_profile = tool\n[profile tool]\ncredential_process = ${script}\n`
      })
      const error = failureOf(yield* resolveWith(layer, { env }))
      assert.strictEqual(error.source, "assume-role")
      assert.strictEqual(error.reason, "ProcessFailed")
      assert.strictEqual(error.profile, "tool")
      assert.include(error.message, "exited with code 3: no session")
    }))

  it.scoped("web identity at the root: unsigned AssumeRoleWithWebIdentity, then AssumeRole with its credentials", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const sts = yield* StsServer.make()
      const tokenFile = home.write("token.jwt", "eyJ.root-token.sig\n")
      const env = setup(home, sts, {
        config: [
          "[profile dev]",
          `role_arn = ${roleA}`,
          "source_profile = ci",
          "[profile ci]",
          `role_arn = ${roleB}`,
          `web_identity_token_file = ${tokenFile}`,
          "role_session_name = ci-run"
        ].join("\n")
      }, { AWS_ROLE_ARN: "arn:aws:iam::999999999999:role/FromEnvIgnored" })
      const { credentials } = getSuccess(yield* resolveWith(layer, { env }))
      const [web, role] = sts.requests
      assert.strictEqual(web?.action, "AssumeRoleWithWebIdentity")
      assert.isUndefined(web?.accessKeyId)
      assert.isUndefined(web?.headers.authorization)
      // A source profile's settings come from the profile only (botocore disables the environment there).
      assert.strictEqual(web?.params.RoleArn, roleB)
      assert.strictEqual(web?.params.WebIdentityToken, "eyJ.root-token.sig")
      assert.strictEqual(web?.params.RoleSessionName, "ci-run")
      assert.strictEqual(role?.action, "AssumeRole")
      assert.strictEqual(role?.accessKeyId, sts.issued[0]?.accessKeyId)
      assert.strictEqual(
        credentials.provenance,
        `profile dev -> assume-role ${roleA} -> profile ci (assume-role-with-web-identity ${roleB} with the token in ` +
          `${tokenFile} (web_identity_token_file in profile ci (${home.configPath}:6)))${viaFake(sts)}`
      )
    }))

  it.scoped("SSO and aws login roots through their own fetchers, on loopback", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const sts = yield* StsServer.make()
      const sso = yield* SsoServer.make()
      sso.acceptToken("portal-access-token")
      writeSsoToken(home, { accessToken: "portal-access-token", expiresAt: isoOf(Date.now() + 3600_000) })
      writeLoginCache(home, Date.now() + 3600_000)
      home.writeConfig([
        "[profile dev]",
        `role_arn = ${roleA}`,
        "source_profile = portal",
        ...ssoPortalProfile,
        "[profile web]",
        `role_arn = ${roleA}`,
        "source_profile = console",
        "[profile console]",
        `login_session = ${loginSession}`,
        ""
      ].join("\n"))
      const results: Array<string> = []
      for (const profile of ["dev", "web"]) {
        const env = home.env({
          AWS_PROFILE: profile,
          AWS_REGION: "us-east-1",
          AWS_ENDPOINT_URL_STS: sts.url,
          AWS_ENDPOINT_URL_SSO: sso.url
        })
        const { credentials } = getSuccess(yield* resolveWith(layer, { env }))
        results.push(credentials.provenance)
      }
      assert.strictEqual(sso.calls.portal, 1)
      assert.deepStrictEqual(sts.calls("AssumeRole").map((r) => r.accessKeyId), [
        sso.issued[0]?.accessKeyId,
        "ASIACONSOLE"
      ])
      assert.include(
        results[0],
        `profile dev -> assume-role ${roleA} -> profile portal (sso: profile portal: IAM Identity Center role Dev in ` +
          "account 123456789012 via SSO portal in us-east-1 (sso-session corp)"
      )
      assert.include(results[1], `profile web -> assume-role ${roleA} -> profile console (login: `)
    }))

  it.scoped("an SSO root gets one token-refresh gate for the layer's life, so re-runs keep CreateToken spaced", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const sts = yield* StsServer.make()
      const sso = yield* SsoServer.make()
      sso.acceptToken("portal-access-token")
      // Within the refresh window (TestClock starts at 0), with a client SSO-OIDC does not know:
      // every CreateToken fails, and the still-valid token is used.
      writeSsoToken(home, {
        accessToken: "portal-access-token",
        expiresAt: isoOf(5 * 60_000),
        clientId: "unknown-client",
        clientSecret: "unknown-client-secret",
        refreshToken: "unknown-refresh-token",
        registrationExpiresAt: isoOf(Date.now() + 86400_000)
      })
      home.writeConfig([
        "[profile dev]",
        `role_arn = ${roleA}`,
        "source_profile = portal",
        ...ssoPortalProfile,
        ""
      ].join("\n"))
      const env = home.env({
        AWS_PROFILE: "dev",
        AWS_REGION: "us-east-1",
        AWS_ENDPOINT_URL_STS: sts.url,
        AWS_ENDPOINT_URL_SSO: sso.url,
        AWS_ENDPOINT_URL_SSO_OIDC: sso.url
      })
      const withSso = AssumeRole.layerWith({ maxAttempts: 1 })
      // The same layer resolved, then refreshed twice inside the retry interval (60 s).
      const exit = yield* runWith(withSso, { env }, Effect.gen(function*() {
        const service = yield* AwsCredentials
        for (let i = 0; i < 2; i++) {
          yield* TestClock.adjust("10 seconds")
          yield* service.invalidate
          yield* service.get
        }
      }))
      getSuccess(exit)
      assert.strictEqual(sso.calls.oidc, 1)
      // Another layer: a gate of its own.
      getSuccess(yield* resolveWith(withSso, { env }))
      assert.strictEqual(sso.calls.oidc, 2)
      assert.strictEqual(sso.calls.portal, 4)
      assert.lengthOf(sts.calls("AssumeRole"), 4)
    }))

  it.scoped("credential_source = Ec2InstanceMetadata and EcsContainer through the real modules, on loopback", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const sts = yield* StsServer.make()
      const metadata = yield* metadataServer()
      home.writeConfig([
        "[profile ec2]",
        `role_arn = ${roleA}`,
        "credential_source = Ec2InstanceMetadata",
        "[profile ecs]",
        `role_arn = ${roleA}`,
        "credential_source = EcsContainer",
        ""
      ].join("\n"))
      const base = {
        AWS_REGION: "us-east-1",
        AWS_ENDPOINT_URL_STS: sts.url,
        AWS_EC2_METADATA_DISABLED: "false",
        AWS_EC2_METADATA_SERVICE_ENDPOINT: metadata.url,
        AWS_CONTAINER_CREDENTIALS_FULL_URI: `${metadata.url}/credentials`
      }
      const ec2 = getSuccess(yield* resolveWith(layer, { env: home.env({ ...base, AWS_PROFILE: "ec2" }) }))
      const ecs = getSuccess(yield* resolveWith(layer, { env: home.env({ ...base, AWS_PROFILE: "ecs" }) }))
      assert.deepStrictEqual(
        sts.calls("AssumeRole").map((request) => request.accessKeyId),
        metadata.served.map((served) => served.AccessKeyId)
      )
      assert.strictEqual(metadata.counts.roleCredentials, 1)
      assert.strictEqual(metadata.counts.container, 1)
      assert.include(ec2.credentials.provenance, "-> credential_source Ec2InstanceMetadata (")
      assert.include(ecs.credentials.provenance, "-> credential_source EcsContainer (")
    }))

  it.scoped("credential_source = Ec2InstanceMetadata keeps its metadata token and state across the chain's re-runs", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const sts = yield* StsServer.make()
      const metadata = yield* metadataServer()
      home.writeConfig(`[profile ec2]\nrole_arn = ${roleA}\ncredential_source = Ec2InstanceMetadata\n`)
      const env = home.env({
        AWS_PROFILE: "ec2",
        AWS_REGION: "us-east-1",
        AWS_ENDPOINT_URL_STS: sts.url,
        AWS_EC2_METADATA_DISABLED: "false",
        AWS_EC2_METADATA_SERVICE_ENDPOINT: metadata.url
      })
      const exit = yield* runWith(AssumeRole.layerWith({ maxAttempts: 1 }), { env }, Effect.gen(function*() {
        const service = yield* AwsCredentials
        for (let i = 0; i < 2; i++) {
          yield* TestClock.adjust("1 minute")
          yield* service.invalidate
          yield* service.get
        }
      }))
      getSuccess(exit)
      // Three chain runs, three role documents, one IMDSv2 token.
      assert.strictEqual(metadata.counts.roleCredentials, 3)
      assert.lengthOf(metadata.tokens, 1)
      assert.lengthOf(sts.calls("AssumeRole"), 3)
    }))

  it.scoped("a root that has nothing (instance metadata unavailable) is an error of the chain", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const sts = yield* StsServer.make()
      const env = setup(home, sts, { config: `[profile dev]\nrole_arn = ${roleA}\ncredential_source = Ec2InstanceMetadata\n` }, {
        AWS_EC2_METADATA_DISABLED: "true"
      })
      const error = failureOf(yield* resolveWith(layer, { env }))
      assert.strictEqual(error.reason, "InvalidConfiguration")
      assert.include(error.message, "credential_source = Ec2InstanceMetadata in profile dev")
      assert.include(error.message, "AWS_EC2_METADATA_DISABLED")
      assert.lengthOf(sts.requests, 0)
    }))
})

describe("AssumeRole: configuration errors and skips", () => {
  it.scoped("a profile without role_arn, or with web_identity_token_file, is not this source's", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const sts = yield* StsServer.make()
      home.writeConfig(`[profile dev]\n${baseKeys}[profile web]\nrole_arn = ${roleA}\nweb_identity_token_file = /t\n`)
      for (const [profile, reason] of [["dev", "has no role_arn"], ["web", "has web_identity_token_file"]] as const) {
        const env = home.env({ AWS_PROFILE: profile, AWS_REGION: "us-east-1", AWS_ENDPOINT_URL_STS: sts.url })
        const error = getFailure(yield* resolveWith(layer, { env }))
        assert.strictEqual(error._tag, "CredentialsUnavailable")
        assert.include(error.message, reason)
      }
      assert.lengthOf(sts.requests, 0)
    }))

  it.scoped("a source_profile cycle is InfiniteLoop with the path", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const sts = yield* StsServer.make()
      const env = setup(home, sts, {
        config: [
          "[profile dev]",
          `role_arn = ${roleA}`,
          "source_profile = mid",
          "[profile mid]",
          `role_arn = ${roleB}`,
          "source_profile = dev",
          ""
        ].join("\n")
      })
      const error = failureOf(yield* resolveWith(layer, { env }))
      assert.strictEqual(error.reason, "InfiniteLoop")
      assert.include(error.message, "dev -> mid -> dev")
      assert.lengthOf(sts.requests, 0)
    }))

  it.scoped("source_profile and credential_source together, a missing source profile, an unknown credential_source", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const sts = yield* StsServer.make()
      home.writeConfig([
        "[profile both]",
        `role_arn = ${roleA}`,
        "source_profile = base",
        "credential_source = Environment",
        "[profile missing]",
        `role_arn = ${roleA}`,
        "source_profile = nowhere",
        "[profile bad]",
        `role_arn = ${roleA}`,
        "credential_source = environment",
        "[profile base]",
        baseKeys
      ].join("\n"))
      const expect = [
        ["both", "InvalidConfiguration", "both source_profile and credential_source"],
        ["missing", "ProfileNotFound", "could not find source profile nowhere referenced from missing"],
        ["bad", "InvalidConfiguration", "credential_source = environment is not valid"]
      ] as const
      for (const [profile, reason, text] of expect) {
        const env = home.env({ AWS_PROFILE: profile, AWS_REGION: "us-east-1", AWS_ENDPOINT_URL_STS: sts.url })
        const error = failureOf(yield* resolveWith(layer, { env }))
        assert.strictEqual(error.reason, reason, profile)
        assert.include(error.message, text)
        assert.include(error.message, home.configPath)
      }
    }))
})

describe("AssumeRole: the STS region (configured only) and the global endpoint without one", () => {
  const config = `[profile dev]\nrole_arn = ${roleA}\nsource_profile = base\n[profile base]\n${baseKeys}`

  it.scoped("no region: https://sts.amazonaws.com signed for us-east-1, whatever sts_regional_endpoints says (botocore)", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const sts = yield* StsServer.make()
      // The client addresses the real global endpoint; the interceptor delivers to the loopback fake.
      const intercepted = StsServer.interceptor(sts)
      const intercepting = layer.pipe(Layer.provide(Layer.succeed(Sts.RequestHandler, intercepted.handler)))
      home.writeConfig(config)
      const modes = [{}, { AWS_STS_REGIONAL_ENDPOINTS: "regional" }, { AWS_STS_REGIONAL_ENDPOINTS: "legacy" }]
      for (const mode of modes) {
        const { credentials } = getSuccess(yield* resolveWith(intercepting, { env: home.env({ AWS_PROFILE: "dev", ...mode }) }))
        assert.strictEqual(
          credentials.provenance,
          `profile dev -> assume-role ${roleA} -> profile base (config-file ${home.configPath}:5), ` +
            "via STS us-east-1 (global endpoint, no region configured)"
        )
      }
      assert.deepStrictEqual(intercepted.addressed, modes.map(() => "https://sts.amazonaws.com/"))
      assert.deepStrictEqual(
        sts.calls("AssumeRole").map((request) => [request.signingRegion, request.headers.host, request.accessKeyId]),
        modes.map(() => ["us-east-1", "sts.amazonaws.com", "AKIABASE"])
      )
    }))

  it.scoped("with a region the same interceptor sees the regional endpoint, signed for the region", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const sts = yield* StsServer.make()
      const intercepted = StsServer.interceptor(sts)
      const intercepting = layer.pipe(Layer.provide(Layer.succeed(Sts.RequestHandler, intercepted.handler)))
      home.writeConfig(`[profile dev]\nregion = eu-west-3\nrole_arn = ${roleA}\nsource_profile = base\n[profile base]\n${baseKeys}`)
      const { credentials } = getSuccess(yield* resolveWith(intercepting, { env: home.env({ AWS_PROFILE: "dev" }) }))
      assert.deepStrictEqual(intercepted.addressed, ["https://sts.eu-west-3.amazonaws.com/"])
      assert.strictEqual(sts.calls("AssumeRole")[0]?.signingRegion, "eu-west-3")
      assert.isTrue(
        credentials.provenance.endsWith(", via STS eu-west-3 (regional endpoint, region from profile dev)"),
        credentials.provenance
      )
    }))

  it.scoped("no region with AWS_ENDPOINT_URL_STS: that endpoint, signed for us-east-1 (the message says so)", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const sts = yield* StsServer.make()
      home.writeConfig(config)
      const env = home.env({ AWS_PROFILE: "dev", AWS_ENDPOINT_URL_STS: sts.url })
      const { credentials } = getSuccess(yield* resolveWith(layer, { env }))
      const [request] = sts.calls("AssumeRole")
      assert.strictEqual(request?.signingRegion, "us-east-1")
      assert.strictEqual(request?.accessKeyId, "AKIABASE")
      assert.strictEqual(credentials.accessKeyId, sts.issued[0]?.accessKeyId)
      assert.isTrue(
        credentials.provenance.endsWith(`, via STS us-east-1 (${sts.url} from AWS_ENDPOINT_URL_STS, no region configured)`),
        credentials.provenance
      )
      // A refusal names the endpoint, the signing region and the missing region.
      sts.inject(StsServer.Fault.accessDenied)
      const error = failureOf(yield* resolveWith(layer, { env }))
      assert.include(error.message, `STS in us-east-1 (${sts.url}, AWS_ENDPOINT_URL_STS, no region configured)`)
    }))

  it.scoped("the instance metadata service is never asked for the STS region, even when it is on and knows one", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const sts = yield* StsServer.make()
      const metadata = yield* metadataServer({ region: "ap-southeast-2" })
      home.writeConfig(config)
      const env = home.env({
        AWS_PROFILE: "dev",
        AWS_ENDPOINT_URL_STS: sts.url,
        AWS_EC2_METADATA_DISABLED: "false",
        AWS_EC2_METADATA_SERVICE_ENDPOINT: metadata.url
      })
      const { credentials } = getSuccess(yield* resolveWith(layer, { env }))
      assert.lengthOf(metadata.requests, 0)
      assert.strictEqual(sts.calls("AssumeRole")[0]?.signingRegion, "us-east-1")
      assert.include(credentials.provenance, "no region configured")
      // Not vacuous: in this environment the region chain itself would have found the instance's region.
      const region = yield* AwsRegion.resolve.pipe(
        Effect.provide(AwsSession.layer().pipe(Layer.provide(platformLayer))),
        withEnv(env)
      )
      assert.deepStrictEqual(Option.map(region, (r) => [r.name, r.source]), Option.some(["ap-southeast-2", "imds"]))
      assert.isAbove(metadata.requests.length, 0)
    }))

  it.scoped("credentials served from the AWS CLI cache say so instead of naming an STS endpoint", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const sts = yield* StsServer.make()
      const env = setup(home, sts, {
        config: `[profile dev]\nrole_arn = ${roleA}\nsource_profile = base\nrole_session_name = cached\n[profile base]\n${baseKeys}`
      })
      const caching = AssumeRole.layerWith({ timeout: "5 seconds", maxAttempts: 1, cache: "cli" })
      const first = getSuccess(yield* resolveWith(caching, { env })).credentials
      const second = getSuccess(yield* resolveWith(caching, { env })).credentials
      assert.lengthOf(sts.calls("AssumeRole"), 1)
      assert.strictEqual(second.accessKeyId, first.accessKeyId)
      assert.isTrue(first.provenance.endsWith(viaFake(sts)), first.provenance)
      const cached = /, from the AWS CLI cache \(([0-9a-f]+)\.json in (.+)\)$/.exec(second.provenance)
      assert.strictEqual(cached?.[2], `${home.dir}/.aws/cli/cache`, second.provenance)
      assert.isTrue(fs.existsSync(`${cached?.[2]}/${cached?.[1]}.json`))
    }))

  it.scoped("FIPS or dual-stack without a region: InvalidConfiguration saying to set one (no call is made)", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const sts = yield* StsServer.make()
      const intercepted = StsServer.interceptor(sts)
      const intercepting = layer.pipe(Layer.provide(Layer.succeed(Sts.RequestHandler, intercepted.handler)))
      home.writeConfig(config)
      for (const [variable, what] of [["AWS_USE_FIPS_ENDPOINT", "FIPS"], ["AWS_USE_DUALSTACK_ENDPOINT", "dual-stack"]] as const) {
        const env = home.env({ AWS_PROFILE: "dev", [variable]: "true" })
        const error = failureOf(yield* resolveWith(intercepting, { env }))
        assert.strictEqual(error.reason, "InvalidConfiguration")
        assert.include(error.message, `a ${what} STS endpoint needs a region`)
        assert.include(error.message, "AWS_REGION")
      }
      assert.lengthOf(intercepted.addressed, 0)
    }))
})

describe("AssumeRole: MFA", () => {
  const mfaConfig = [
    "[profile dev]",
    `role_arn = ${roleA}`,
    "source_profile = base",
    "mfa_serial = arn:aws:iam::111111111111:mfa/alice",
    "[profile base]",
    baseKeys
  ].join("\n")

  it.scoped("without an MfaTokenProvider: MfaRequired, saying how to provide one", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const sts = yield* StsServer.make()
      const error = failureOf(yield* resolveWith(layer, { env: setup(home, sts, { config: mfaConfig }) }))
      assert.strictEqual(error.reason, "MfaRequired")
      assert.strictEqual(error.profile, "dev")
      assert.include(error.message, "arn:aws:iam::111111111111:mfa/alice")
      assert.include(error.message, "MfaTokenProvider.layer")
      assert.lengthOf(sts.requests, 0)
    }))

  it.scoped("with a provider: SerialNumber and TokenCode are sent; the code is never printed", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const sts = yield* StsServer.make()
      const requests: Array<MfaTokenProvider.Request> = []
      const mfa = MfaTokenProvider.layer((request) =>
        Effect.sync(() => {
          requests.push(request)
          return Redacted.make("123456")
        })
      )
      const { credentials } = getSuccess(
        yield* resolveWith(layer.pipe(Layer.provide(mfa)), { env: setup(home, sts, { config: mfaConfig }) })
      )
      assert.deepStrictEqual(requests, [{
        serialNumber: "arn:aws:iam::111111111111:mfa/alice",
        roleArn: roleA,
        profile: "dev"
      }])
      const params = sts.calls("AssumeRole")[0]?.params
      assert.strictEqual(params?.SerialNumber, "arn:aws:iam::111111111111:mfa/alice")
      assert.strictEqual(params?.TokenCode, "123456")
      assertNoSecrets(credentials, ["123456", baseSecret])
    }))

  it.scoped("the README's usage: CredentialChain.layerNode(...).pipe(Layer.provide(MfaTokenProvider.layer(...)))", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const sts = yield* StsServer.make()
      const env = setup(home, sts, { config: mfaConfig })
      const asked: Array<MfaTokenProvider.Request> = []
      const chain = CredentialChain.layerNode({ profile: "dev" }).pipe(
        Layer.provide(MfaTokenProvider.layer((request) =>
          Effect.sync(() => {
            asked.push(request)
            return "246810"
          })
        ))
      )
      const exit = yield* Effect.gen(function*() {
        const service = yield* AwsCredentials
        const credentials = yield* service.get
        return { credentials, attempts: service.attempts }
      }).pipe(Effect.provide(chain), withEnv(env), Effect.exit)
      const { attempts, credentials } = getSuccess(exit)
      assert.deepStrictEqual(asked, [{ serialNumber: "arn:aws:iam::111111111111:mfa/alice", roleArn: roleA, profile: "dev" }])
      const [request] = sts.calls("AssumeRole")
      assert.deepStrictEqual(
        [request?.params.SerialNumber, request?.params.TokenCode, request?.accessKeyId],
        ["arn:aws:iam::111111111111:mfa/alice", "246810", "AKIABASE"]
      )
      assert.strictEqual(credentials.source, "assume-role")
      assert.strictEqual(credentials.accessKeyId, sts.issued[0]?.accessKeyId)
      assert.strictEqual(outcomes(attempts).at(-1)?.join(" "), "assume-role resolved")
      assertNoSecrets(exit, ["246810", baseSecret, ...secretsOf(sts)])
    }))

  it.scoped("a provider that fails or answers something else than six digits: MfaRequired", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const sts = yield* StsServer.make()
      const env = setup(home, sts, { config: mfaConfig })
      const failing = MfaTokenProvider.layer(() => Effect.fail("user cancelled"))
      const wrong = MfaTokenProvider.layer(() => Effect.succeed("12 34 56 secret"))
      for (const mfa of [failing, wrong]) {
        const exit = yield* resolveWith(layer.pipe(Layer.provide(mfa)), { env })
        const error = failureOf(exit)
        assert.strictEqual(error.reason, "MfaRequired")
        assertNoSecrets(exit, ["12 34 56 secret"])
      }
      assert.lengthOf(sts.requests, 0)
    }))
})

describe("AssumeRole: STS errors", () => {
  const config = `[profile dev]\nrole_arn = ${roleA}\nsource_profile = base\n[profile base]\n${baseKeys}`

  const cases = [
    [StsServer.Fault.accessDenied, "ServiceError", "AccessDenied (HTTP 403)", "trust policy"],
    [StsServer.Fault.expiredToken, "ServiceError", "ExpiredToken (HTTP 400)", "have expired"],
    [StsServer.Fault.regionDisabled, "ServiceError", "RegionDisabledException (HTTP 403)", "not activated"],
    [StsServer.Fault.garbage, "InvalidResponse", "not an STS response", undefined],
    [StsServer.Fault.noCredentials, "InvalidResponse", "without complete Credentials", undefined]
  ] as const

  for (const [fault, reason, text, hint] of cases) {
    it.scoped(`${fault._tag === "Error" ? fault.code : fault._tag}: ${reason} naming region, endpoint, role, profile`, () =>
      Effect.gen(function*() {
        const home = yield* tempHome
        const sts = yield* StsServer.make()
        sts.inject(fault)
        const exit = yield* resolveWith(layer, { env: setup(home, sts, { config }) })
        const error = failureOf(exit)
        assert.strictEqual(error.source, "assume-role")
        assert.strictEqual(error.reason, reason)
        assert.strictEqual(error.profile, "dev")
        assert.include(error.message, `STS in us-east-1 (${sts.url}, AWS_ENDPOINT_URL_STS)`)
        assert.include(error.message, text)
        assert.include(error.message, "AssumeRole")
        if (hint !== undefined) assert.include(error.message, hint)
        assertNoSecrets(exit, secretsOf(sts, [baseSecret]))
      }))
  }

  it.live("throttling and 500 are retried (bounded), then succeed", () =>
    Effect.scoped(Effect.gen(function*() {
      const home = yield* tempHome
      const sts = yield* StsServer.make()
      sts.inject(StsServer.Fault.throttling, StsServer.Fault.serverError)
      const retrying = AssumeRole.layerWith({ timeout: "5 seconds", maxAttempts: 3 })
      const { credentials } = getSuccess(yield* resolveWith(retrying, { env: setup(home, sts, { config }) }))
      assert.lengthOf(sts.calls("AssumeRole"), 3)
      assert.strictEqual(credentials.accessKeyId, sts.issued[0]?.accessKeyId)
    })))

  it.live("500 on every attempt: ServiceError after the last attempt", () =>
    Effect.scoped(Effect.gen(function*() {
      const home = yield* tempHome
      const sts = yield* StsServer.make()
      sts.inject(StsServer.Fault.serverError, StsServer.Fault.serverError, StsServer.Fault.serverError)
      const retrying = AssumeRole.layerWith({ timeout: "5 seconds", maxAttempts: 2 })
      const error = failureOf(yield* resolveWith(retrying, { env: setup(home, sts, { config }) }))
      assert.strictEqual(error.reason, "ServiceError")
      assert.include(error.message, "InternalFailure (HTTP 500)")
      assert.include(error.message, "after 2 attempts")
      assert.lengthOf(sts.requests, 2)
    })))

  it.live("a slow STS: Timeout after each attempt's limit", () =>
    Effect.scoped(Effect.gen(function*() {
      const home = yield* tempHome
      const sts = yield* StsServer.make()
      sts.inject(StsServer.Fault.slow(3000), StsServer.Fault.slow(3000))
      const quick = AssumeRole.layerWith({ timeout: "200 millis", maxAttempts: 2 })
      const started = Date.now()
      const error = failureOf(yield* resolveWith(quick, { env: setup(home, sts, { config }) }))
      assert.strictEqual(error.reason, "Timeout")
      assert.include(error.message, "within 200ms (after 2 attempts)")
      assert.isBelow(Date.now() - started, 2500)
    })))

  it.live("a dropped connection and a closed port: Unreachable", () =>
    Effect.scoped(Effect.gen(function*() {
      const home = yield* tempHome
      const sts = yield* StsServer.make()
      sts.inject(StsServer.Fault.drop)
      const env = setup(home, sts, { config })
      const dropped = failureOf(yield* resolveWith(layer, { env }))
      assert.strictEqual(dropped.reason, "Unreachable")
      const closed = failureOf(
        yield* resolveWith(layer, { env: { ...env, AWS_ENDPOINT_URL_STS: "http://127.0.0.1:1" } })
      )
      assert.strictEqual(closed.reason, "Unreachable")
      assert.include(closed.message, "ECONNREFUSED")
    })))
})

describe("AssumeRole: refresh", () => {
  const start = Date.parse("2030-06-01T00:00:00Z")

  it.scoped("runs the whole chain again before expiry (root process included, MFA asked again)", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(start)
      let now = start
      const home = yield* tempHome
      const sts = yield* StsServer.make({ now: () => now })
      const counter = home.write("runs", "")
      const script = home.script(
        "creds.sh",
        `echo run >> ${shellQuote(counter)}\nprintf '%s' ${
          shellQuote(processJson({ AccessKeyId: "AKIAPROC", SecretAccessKey: "proc-secret" }))
        }`
      )
      const env = setup(home, sts, {
        config: [
          "[profile dev]",
          `role_arn = ${roleA}`,
          "source_profile = tool",
          "mfa_serial = arn:aws:iam::111111111111:mfa/alice",
          "[profile tool]",
          `credential_process = ${script}`,
          ""
        ].join("\n")
      })
      const asked = yield* Ref.make(0)
      const mfa = MfaTokenProvider.layer(() => Effect.as(Ref.update(asked, (n) => n + 1), "654321"))
      // Long STS and process timeouts: the TestClock jumps must not time out a call in flight.
      const slowTimeouts = AssumeRole.layerWith({ timeout: "1 day", maxAttempts: 1, process: { timeout: "1 day" } }).pipe(
        Layer.provide(mfa)
      )
      const exit = yield* runWith(slowTimeouts, { env }, Effect.gen(function*() {
        const service = yield* AwsCredentials
        const first = yield* service.get
        now = start + 55 * 60_000
        yield* TestClock.setTime(now)
        const second = yield* service.get
        return [first, second] as const
      }))
      const [first, second] = getSuccess(exit)
      assert.notStrictEqual(first.accessKeyId, second.accessKeyId)
      assert.strictEqual(second.accessKeyId, sts.issued[sts.issued.length - 1]?.accessKeyId)
      assert.lengthOf(sts.calls("AssumeRole"), 2)
      assert.strictEqual(yield* Ref.get(asked), 2)
      const fs = yield* Effect.promise(() => import("node:fs"))
      assert.strictEqual(fs.readFileSync(counter, "utf8"), "run\nrun\n")
    }))
})

describe("STS settings (region and endpoint, as botocore 1.43 resolves them)", () => {
  const settingsWith = (
    home: TempHome,
    env: Record<string, string>,
    config = "[default]\n",
    session: AwsSession.Options = {}
  ) => {
    home.writeConfig(config)
    return Sts.settings("assume-role").pipe(
      Effect.provide(AwsSession.layer(session).pipe(Layer.provide(platformLayer))),
      withEnv(home.env(env)),
      Effect.either
    )
  }

  it.scoped("regional by default; the global endpoint only with sts_regional_endpoints = legacy in a legacy region", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      // Each row checked against botocore 1.43 with its HTTP send intercepted (AWS_DEFAULT_REGION for AWS_REGION).
      const table = [
        [{ AWS_REGION: "eu-west-1" }, "https://sts.eu-west-1.amazonaws.com", "eu-west-1"],
        [{ AWS_DEFAULT_REGION: "us-west-2" }, "https://sts.us-west-2.amazonaws.com", "us-west-2"],
        [{ AWS_DEFAULT_REGION: "us-west-2", AWS_STS_REGIONAL_ENDPOINTS: "legacy" }, "https://sts.amazonaws.com", "us-east-1"],
        [
          { AWS_DEFAULT_REGION: "us-west-2", AWS_STS_REGIONAL_ENDPOINTS: "legacy", AWS_USE_FIPS_ENDPOINT: "true" },
          "https://sts-fips.us-west-2.amazonaws.com",
          "us-west-2"
        ],
        [
          { AWS_DEFAULT_REGION: "us-west-2", AWS_STS_REGIONAL_ENDPOINTS: "legacy", AWS_ENDPOINT_URL_STS: "http://127.0.0.1:9" },
          "http://127.0.0.1:9",
          "us-west-2"
        ],
        [{ AWS_REGION: "aws-global" }, "https://sts.amazonaws.com", "us-east-1"],
        // No region: the global endpoint, in either mode (botocore's partition endpoint aws-global).
        [{}, "https://sts.amazonaws.com", "us-east-1"],
        [{ AWS_STS_REGIONAL_ENDPOINTS: "regional" }, "https://sts.amazonaws.com", "us-east-1"],
        [{ AWS_STS_REGIONAL_ENDPOINTS: "legacy" }, "https://sts.amazonaws.com", "us-east-1"],
        [{ AWS_ENDPOINT_URL_STS: "http://127.0.0.1:9" }, "http://127.0.0.1:9", "us-east-1"],
        [{ AWS_REGION: "us-east-1", AWS_STS_REGIONAL_ENDPOINTS: "legacy" }, "https://sts.amazonaws.com", "us-east-1"],
        [{ AWS_REGION: "eu-west-1", AWS_STS_REGIONAL_ENDPOINTS: "legacy" }, "https://sts.amazonaws.com", "us-east-1"],
        [
          { AWS_REGION: "eu-central-2", AWS_STS_REGIONAL_ENDPOINTS: "legacy" },
          "https://sts.eu-central-2.amazonaws.com",
          "eu-central-2"
        ],
        [{ AWS_REGION: "cn-north-1" }, "https://sts.cn-north-1.amazonaws.com.cn", "cn-north-1"],
        [{ AWS_REGION: "us-east-1", AWS_USE_FIPS_ENDPOINT: "true" }, "https://sts-fips.us-east-1.amazonaws.com", "us-east-1"],
        [
          { AWS_REGION: "us-east-1", AWS_USE_DUALSTACK_ENDPOINT: "true", AWS_STS_REGIONAL_ENDPOINTS: "legacy" },
          "https://sts.us-east-1.api.aws",
          "us-east-1"
        ]
      ] as const
      for (const [env, endpoint, signingRegion] of table) {
        const result = yield* settingsWith(home, env)
        assert.isTrue(result._tag === "Right", JSON.stringify(env))
        if (result._tag === "Right") {
          assert.strictEqual(result.right.endpoint, endpoint, JSON.stringify(env))
          assert.strictEqual(result.right.signingRegion, signingRegion, JSON.stringify(env))
        }
      }
    }))

  it.scoped("where the calls go, as the provenance and the messages say it", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const table = [
        [
          { AWS_REGION: "eu-west-1" },
          "[default]\n",
          "via STS eu-west-1 (regional endpoint, region from AWS_REGION)",
          "STS in eu-west-1 (https://sts.eu-west-1.amazonaws.com)"
        ],
        [
          {},
          "[default]\n",
          "via STS us-east-1 (global endpoint, no region configured)",
          "STS in us-east-1 (https://sts.amazonaws.com, global endpoint, no region configured)"
        ],
        [
          { AWS_DEFAULT_REGION: "eu-west-1", AWS_STS_REGIONAL_ENDPOINTS: "legacy" },
          "[default]\n",
          "via STS us-east-1 (global endpoint, sts_regional_endpoints = legacy, region eu-west-1 from AWS_DEFAULT_REGION)",
          "STS in us-east-1 (https://sts.amazonaws.com, global endpoint, sts_regional_endpoints = legacy, region eu-west-1)"
        ],
        [
          { AWS_ENDPOINT_URL_STS: "http://127.0.0.1:9" },
          "[default]\nregion = ap-south-1\n",
          "via STS ap-south-1 (http://127.0.0.1:9 from AWS_ENDPOINT_URL_STS, region from profile default)",
          "STS in ap-south-1 (http://127.0.0.1:9, AWS_ENDPOINT_URL_STS)"
        ],
        [
          { AWS_ENDPOINT_URL: "http://127.0.0.1:9/" },
          "[default]\n",
          "via STS us-east-1 (http://127.0.0.1:9 from AWS_ENDPOINT_URL, no region configured)",
          "STS in us-east-1 (http://127.0.0.1:9, AWS_ENDPOINT_URL, no region configured)"
        ]
      ] as const
      for (const [env, config, route, described] of table) {
        const result = yield* settingsWith(home, env, config)
        assert.isTrue(result._tag === "Right", JSON.stringify(env))
        if (result._tag === "Right") {
          assert.strictEqual(Sts.describeRoute(result.right), route)
          assert.strictEqual(Sts.describeSettings(result.right), described)
        }
      }
      const explicit = yield* settingsWith(home, { AWS_REGION: "eu-west-1" }, "[default]\n", { region: "ca-central-1" })
      assert.strictEqual(
        explicit._tag === "Right" && Sts.describeRoute(explicit.right),
        "via STS ca-central-1 (regional endpoint, region set explicitly)"
      )
    }))

  it.scoped("no region: region and regionSource are undefined; never RegionNotFound or a metadata lookup", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const result = yield* settingsWith(home, { AWS_EC2_METADATA_DISABLED: "false", AWS_EC2_METADATA_SERVICE_ENDPOINT: "http://127.0.0.1:1" })
      assert.deepStrictEqual(
        result._tag === "Right" && [result.right.region, result.right.regionSource, result.right.endpointConfigured],
        [undefined, undefined, false]
      )
    }))

  it.scoped("the profile's region and sts_regional_endpoints; the environment wins over both", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const config = "[default]\nregion = eu-west-2\nsts_regional_endpoints = legacy\n"
      const fromProfile = yield* settingsWith(home, {}, config)
      assert.deepStrictEqual(
        fromProfile._tag === "Right" && [fromProfile.right.region, fromProfile.right.regionSource, fromProfile.right.endpoint],
        ["eu-west-2", "profile default", "https://sts.amazonaws.com"]
      )
      const fromEnv = yield* settingsWith(home, { AWS_DEFAULT_REGION: "ap-south-2", AWS_STS_REGIONAL_ENDPOINTS: "regional" }, config)
      assert.deepStrictEqual(
        fromEnv._tag === "Right" && [fromEnv.right.region, fromEnv.right.endpoint],
        ["ap-south-2", "https://sts.ap-south-2.amazonaws.com"]
      )
    }))

  it.scoped("configured endpoints: AWS_ENDPOINT_URL_STS > AWS_ENDPOINT_URL > [services] sts > endpoint_url", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const config = [
        "[default]",
        "region = us-east-1",
        "services = local",
        "endpoint_url = http://127.0.0.1:4004",
        "[services local]",
        "sts =",
        "  endpoint_url = http://127.0.0.1:4003/",
        ""
      ].join("\n")
      const table = [
        [{ AWS_ENDPOINT_URL_STS: "http://127.0.0.1:4001", AWS_ENDPOINT_URL: "http://127.0.0.1:4002" }, "http://127.0.0.1:4001"],
        [{ AWS_ENDPOINT_URL: "http://127.0.0.1:4002" }, "http://127.0.0.1:4002"],
        [{}, "http://127.0.0.1:4003"],
        [{ AWS_IGNORE_CONFIGURED_ENDPOINT_URLS: "true" }, "https://sts.us-east-1.amazonaws.com"]
      ] as const
      for (const [env, endpoint] of table) {
        const result = yield* settingsWith(home, env, config)
        assert.strictEqual(result._tag === "Right" && result.right.endpoint, endpoint, JSON.stringify(env))
      }
      const profileOnly = yield* settingsWith(home, {}, "[default]\nregion = us-east-1\nendpoint_url = http://127.0.0.1:4004\n")
      assert.strictEqual(profileOnly._tag === "Right" && profileOnly.right.endpoint, "http://127.0.0.1:4004")
    }))

  it.scoped("bad settings are errors: sts_regional_endpoints, endpoint URL, missing [services] section", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const bad = [
        [{ AWS_REGION: "us-east-1", AWS_STS_REGIONAL_ENDPOINTS: "global" }, "[default]\n", "must be \"legacy\" or \"regional\""],
        [{ AWS_REGION: "us-east-1", AWS_ENDPOINT_URL_STS: "localhost:4566" }, "[default]\n", "not an http(s) URL"],
        [{ AWS_REGION: "us-east-1" }, "[default]\nservices = nowhere\n", "[services nowhere]"]
      ] as const
      for (const [env, config, text] of bad) {
        const result = yield* settingsWith(home, env, config)
        assert.isTrue(result._tag === "Left" && result.left.reason === "InvalidConfiguration", text)
        if (result._tag === "Left") assert.include(result.left.message, text)
      }
    }))
})
