import { assert, beforeAll, describe, it } from "@effect/vitest"
import * as FileSystem from "@effect/platform/FileSystem"
import * as NodeCommandExecutor from "@effect/platform-node/NodeCommandExecutor"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as crypto from "node:crypto"
import * as path from "node:path"
import * as util from "node:util"
import { AwsCredentials } from "../src/AwsCredentials.js"
import * as AwsSession from "../src/AwsSession.js"
import * as CredentialChain from "../src/CredentialChain.js"
import * as Credentials from "../src/Credentials.js"
import { CredentialsError } from "../src/CredentialsError.js"
import * as BotoConfig from "../src/providers/BotoConfig.js"
import * as Env from "../src/providers/EnvCredentials.js"
import * as SharedCredentialsFile from "../src/providers/SharedCredentialsFile.js"
import {
  defaultChain,
  type DefaultChainLink,
  defaultChainLinks,
  getFailure,
  getSuccess,
  outcomes,
  processJson,
  resolveWith,
  runWith,
  shellQuote,
  type TempHome,
  tempHome,
  withCapturedLogs,
  withEnv
} from "./support/fixtures.js"
import { sourceLayer } from "../src/internal/provider.js"
import { silentServer } from "./support/metadataServer.js"
import { recordingTracer } from "./support/spans.js"
import { useFakes } from "./support/sharedFakes.js"
import * as StsServer from "./support/stsServer.js"

/** The default chain's links, in order (botocore's). */
const links = defaultChainLinks

type Link = DefaultChainLink

// One fake of each kind for the whole file: IMDS + container endpoint, STS, SSO portal + sign-in.
const fakes = useFakes()

const roleArn = "arn:aws:iam::123456789012:role/ChainRole"
const webRoleArn = "arn:aws:iam::123456789012:role/ChainWebRole"
const ssoSessionName = "chain-sso"
const ssoToken = "chain-sso-access-token"
const loginSession = "arn:aws:sts::123456789012:assumed-role/Admin/chain"

beforeAll(() => {
  fakes.current().sso.acceptToken(ssoToken)
})

/**
 * What a test writes: environment variables, lines of the default profile in each file, more
 * sections of the config file.
 */
interface Setup {
  readonly env: Record<string, string>
  readonly config: Array<string>
  readonly credentials: Array<string>
  readonly sections: Array<string>
}

const keyOf = (link: Link) => `AKIA${link.toUpperCase().replace(/-/g, "")}`

/** The DPoP key an `aws login` session keeps in its cache file. */
const dpopKey = crypto.generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({
  format: "pem",
  type: "sec1"
}) as string

const iso = (ms: number) => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(".000Z", "Z")

/** STS as users point at it: a region and `AWS_ENDPOINT_URL_STS`. */
const useSts = (setup: Setup) =>
  Object.assign(setup.env, { AWS_REGION: "us-east-1", AWS_ENDPOINT_URL_STS: fakes.current().sts.url })

/** An `[sso-session]` profile in `[default]` (the token cache is written by the caller). */
const useSso = (setup: Setup) => {
  setup.env.AWS_ENDPOINT_URL_SSO = fakes.current().sso.url
  setup.config.push(`sso_session = ${ssoSessionName}`, "sso_account_id = 111122223333", "sso_role_name = ChainRole")
  setup.sections.push(
    `[sso-session ${ssoSessionName}]`,
    "sso_start_url = https://chain.awsapps.com/start",
    "sso_region = us-east-1"
  )
}

/** `login_session` in `[default]` with the sign-in service on the fake (the cache is written by the caller). */
const useLogin = (setup: Setup) => {
  Object.assign(setup.env, { AWS_REGION: "us-east-1", AWS_ENDPOINT_URL_SIGNIN: fakes.current().sso.url })
  setup.config.push(`login_session = ${loginSession}`)
}

const useContainer = (setup: Setup) => {
  setup.env.AWS_CONTAINER_CREDENTIALS_FULL_URI = `${fakes.current().metadata.url}/credentials`
}

const useImds = (setup: Setup) =>
  Object.assign(setup.env, {
    AWS_EC2_METADATA_DISABLED: "false",
    AWS_EC2_METADATA_SERVICE_ENDPOINT: fakes.current().metadata.url
  })

/** The links that call a service when their configuration is valid. */
const askingLinks: ReadonlySet<Link> = new Set([
  "assume-role",
  "assume-role-with-web-identity",
  "sso",
  "container-role",
  "iam-role"
])

/** How many requests the fake behind a remote link has seen (0 for local links). */
const asked = (link: Link): number => {
  const { metadata, sso, sts } = fakes.current()
  switch (link) {
    case "assume-role":
      return sts.calls("AssumeRole").length
    case "assume-role-with-web-identity":
      return sts.calls("AssumeRoleWithWebIdentity").length
    case "sso":
      return sso.calls.portal + sso.calls.oidc
    case "login":
      return sso.calls.signin
    case "container-role":
      return metadata.counts.container
    case "iam-role":
      return metadata.counts.token + metadata.counts.roleList + metadata.counts.roleCredentials
    default:
      return 0
  }
}

/**
 * Configures a link with working credentials. Returns the access key id it must resolve: for
 * local links one that names the link, for remote links the one the fake issued last.
 */
const configure = (home: TempHome, setup: Setup, link: Link): () => string => {
  const key = keyOf(link)
  const { metadata, sso, sts } = fakes.current()
  switch (link) {
    case "env":
      Object.assign(setup.env, { AWS_ACCESS_KEY_ID: key, AWS_SECRET_ACCESS_KEY: "env-secret" })
      return () => key
    case "assume-role":
      useSts(setup)
      setup.config.push(`role_arn = ${roleArn}`, "source_profile = base")
      setup.sections.push("[profile base]", "aws_access_key_id = AKIAROLEROOT", "aws_secret_access_key = root-secret")
      return () => sts.calls("AssumeRole").length > 0 ? sts.issued.at(-1)!.accessKeyId : "(no AssumeRole)"
    case "assume-role-with-web-identity":
      useSts(setup)
      Object.assign(setup.env, {
        AWS_WEB_IDENTITY_TOKEN_FILE: home.write("web-identity.jwt", "eyJhbGciOiJSUzI1NiJ9.chain.c2ln"),
        AWS_ROLE_ARN: webRoleArn,
        AWS_ROLE_SESSION_NAME: "chain-test"
      })
      return () => sts.issued.at(-1)?.roleArn === webRoleArn ? sts.issued.at(-1)!.accessKeyId : "(no web identity)"
    case "sso":
      useSso(setup)
      home.write(
        path.join(".aws", "sso", "cache", `${crypto.createHash("sha1").update(ssoSessionName).digest("hex")}.json`),
        JSON.stringify({
          startUrl: "https://chain.awsapps.com/start",
          region: "us-east-1",
          accessToken: ssoToken,
          expiresAt: iso(Date.now() + 3600_000)
        })
      )
      return () => sso.issued.at(-1)?.accessKeyId ?? "(no GetRoleCredentials)"
    case "shared-credentials-file":
      setup.credentials.push(`aws_access_key_id = ${key}`, "aws_secret_access_key = file-secret")
      return () => key
    case "login":
      useLogin(setup)
      home.write(
        path.join(".aws", "login", "cache", `${crypto.createHash("sha256").update(loginSession).digest("hex")}.json`),
        JSON.stringify({
          accessToken: {
            accessKeyId: key,
            secretAccessKey: "login-secret",
            sessionToken: "login-session-token",
            accountId: "123456789012",
            expiresAt: iso(Date.now() + 3600_000)
          },
          clientId: "arn:aws:signin:::devtools/same-device",
          refreshToken: "login-refresh-token",
          idToken: "header.payload.signature",
          dpopKey
        })
      )
      return () => key
    case "custom-process": {
      const script = home.script(
        "process.sh",
        `printf '%s' ${shellQuote(processJson({ AccessKeyId: key, SecretAccessKey: "process-secret" }))}`
      )
      setup.config.push(`credential_process = ${script}`)
      return () => key
    }
    case "config-file":
      setup.config.push(`aws_access_key_id = ${key}`, "aws_secret_access_key = config-secret")
      return () => key
    case "ec2-credentials-file":
      setup.env.AWS_CREDENTIAL_FILE = home.write("ec2.cred", `AWSAccessKeyId=${key}\nAWSSecretKey=ec2-secret\n`)
      return () => key
    case "boto-config":
      home.write(".boto", `[Credentials]\naws_access_key_id = ${key}\naws_secret_access_key = boto-secret\n`)
      return () => key
    case "container-role":
      useContainer(setup)
      return () => metadata.served.at(-1)?.AccessKeyId ?? "(nothing served)"
    case "iam-role":
      useImds(setup)
      return () => metadata.served.at(-1)?.AccessKeyId ?? "(nothing served)"
  }
}

/** Configures a link so that it is configured but broken, and says which reason it fails with. */
const configureBroken = (home: TempHome, setup: Setup, link: Link): string => {
  const { metadata, sts } = fakes.current()
  switch (link) {
    case "env":
      setup.env.AWS_ACCESS_KEY_ID = "AKIABROKEN"
      return "PartialCredentials"
    case "assume-role":
      // STS refuses the role.
      configure(home, setup, link)
      sts.inject(StsServer.Fault.accessDenied)
      return "ServiceError"
    case "assume-role-with-web-identity":
      // STS refuses the token (not retried, as in botocore).
      configure(home, setup, link)
      sts.inject(StsServer.Fault.invalidIdentityToken)
      return "ServiceError"
    case "sso":
      // Configured, but no `aws sso login` was ever run: no cached token.
      useSso(setup)
      return "TokenMissing"
    case "shared-credentials-file":
      setup.credentials.push("aws_access_key_id = AKIABROKEN")
      return "PartialCredentials"
    case "login":
      // Configured, but no `aws login` was ever run: no cached session.
      useLogin(setup)
      return "TokenMissing"
    case "custom-process":
      setup.config.push(`credential_process = ${home.script("broken.sh", "echo nope >&2\nexit 1")}`)
      return "ProcessFailed"
    case "config-file":
      setup.config.push("aws_access_key_id = AKIABROKEN")
      return "PartialCredentials"
    case "ec2-credentials-file":
      setup.env.AWS_CREDENTIAL_FILE = home.write("ec2.cred", "AWSAccessKeyId=AKIABROKEN\n")
      return "PartialCredentials"
    case "boto-config":
      home.write(".boto", "[Credentials]\naws_access_key_id = AKIABROKEN\n")
      return "PartialCredentials"
    case "container-role":
      // The endpoint answers something that is not a credentials document.
      useContainer(setup)
      metadata.fault("container", { _tag: "Malformed" }, 1)
      return "InvalidResponse"
    case "iam-role":
      // The instance answers a failure code for its role.
      useImds(setup)
      metadata.fault("roleCredentials", { _tag: "Code", code: "AssumeRoleUnauthorizedAccess" }, 1)
      return "ServiceError"
  }
}

/** Writes the files of a setup and returns its environment. */
const materialize = (home: TempHome, setup: Setup) => {
  if (setup.config.length > 0 || setup.sections.length > 0) {
    home.writeConfig(["[default]", ...setup.config, ...setup.sections, ""].join("\n"))
  }
  if (setup.credentials.length > 0) home.writeCredentials(["[default]", ...setup.credentials, ""].join("\n"))
  return home.env(setup.env)
}

const emptySetup = (): Setup => ({ env: {}, config: [], credentials: [], sections: [] })

describe("CredentialChain.layerDefault: each link", () => {
  for (const [index, link] of links.entries()) {
    it.scopedLive(`${link} alone: the earlier links are unavailable and ${link} wins`, () =>
      Effect.gen(function*() {
        const home = yield* tempHome
        const setup = emptySetup()
        const expected = configure(home, setup, link)
        const env = materialize(home, setup)
        const before = asked(link)
        const { attempts, credentials } = getSuccess(yield* resolveWith(defaultChain(home), { env }))
        assert.strictEqual(credentials.source, link)
        assert.strictEqual(credentials.accessKeyId, expected())
        assert.deepStrictEqual(outcomes(attempts), [
          ...links.slice(0, index).map((l) => [l, "unavailable"] as const),
          [link, "resolved"]
        ])
        for (const attempt of attempts) {
          assert.isAtLeast(attempt.durationMs, 0)
          assert.isNotEmpty(attempt.reason)
        }
        // A remote link asked its fake (login's cached session is still valid: no call).
        if (askingLinks.has(link)) assert.isAbove(asked(link), before)
      }))

    it.scopedLive(`${link} broken: the chain stops there, although every later link is configured`, () =>
      Effect.gen(function*() {
        const home = yield* tempHome
        const setup = emptySetup()
        const reason = configureBroken(home, setup, link)
        for (const later of links.slice(index + 1)) configure(home, setup, later)
        const env = materialize(home, setup)
        const laterAsked = links.slice(index + 1).map(asked)
        const error = getFailure(yield* resolveWith(defaultChain(home), { env }))
        assert.strictEqual(error._tag, "CredentialsError", String(error))
        if (error._tag !== "CredentialsError") return
        assert.strictEqual(error.source, link)
        assert.strictEqual(error.reason, reason, error.message)
        assert.deepStrictEqual(outcomes(error.attempts ?? []), [
          ...links.slice(0, index).map((l) => [l, "unavailable"] as const),
          [link, "failed"]
        ])
        const failed = error.attempts?.[index]
        assert.isDefined(failed)
        assert.strictEqual(failed?.reason, error.message)
        assert.isAtLeast(failed?.durationMs ?? -1, 0)
        // No later link was even asked.
        assert.deepStrictEqual(links.slice(index + 1).map(asked), laterAsked)
      }))
  }
})

describe("CredentialChain.layerDefault: order", () => {
  for (const [index, earlier] of links.slice(0, -1).entries()) {
    const later = links[index + 1]!
    it.scopedLive(`${earlier} beats ${later} when both are configured`, () =>
      Effect.gen(function*() {
        const home = yield* tempHome
        const setup = emptySetup()
        const expected = configure(home, setup, earlier)
        configure(home, setup, later)
        const env = materialize(home, setup)
        const laterAsked = asked(later)
        const { attempts, credentials } = getSuccess(yield* resolveWith(defaultChain(home), { env }))
        assert.strictEqual(credentials.source, earlier)
        assert.strictEqual(credentials.accessKeyId, expected())
        assert.deepStrictEqual(attempts.at(-1)?.source, earlier)
        assert.isFalse(attempts.some((a) => a.source === later))
        assert.strictEqual(asked(later), laterAsked, `${later} was asked`)
      }))
  }

  it("Credentials.sources lists explicit, then the twelve links in the chain's order", () => {
    assert.deepStrictEqual(Credentials.sources, ["explicit", ...links])
  })

  it.scopedLive("with every link configured, env wins after a single attempt and no fake is asked", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const setup = emptySetup()
      for (const link of links) configure(home, setup, link)
      const env = materialize(home, setup)
      const before = links.map(asked)
      const { attempts, credentials } = getSuccess(yield* resolveWith(defaultChain(home), { env }))
      assert.strictEqual(credentials.source, "env")
      assert.deepStrictEqual(outcomes(attempts), [["env", "resolved"]])
      assert.deepStrictEqual(links.map(asked), before)
    }))
})

describe("CredentialChain.layerDefault: profiles and explicit keys", () => {
  const envKeys = { AWS_ACCESS_KEY_ID: "AKIAENV", AWS_SECRET_ACCESS_KEY: "env-secret" }

  it.scoped("a profile named in code drops env: its attempt is unavailable, 'skipped'", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      home.writeCredentials("[dev]\naws_access_key_id = AKIADEV\naws_secret_access_key = dev-secret\n")
      const { attempts, credentials } = getSuccess(
        yield* resolveWith(defaultChain(home), { env: home.env(envKeys), session: { profile: "dev" } })
      )
      assert.strictEqual(credentials.source, "shared-credentials-file")
      assert.strictEqual(credentials.accessKeyId, "AKIADEV")
      assert.deepStrictEqual(outcomes(attempts), [
        ...links.slice(0, links.indexOf("shared-credentials-file")).map((l) => [l, "unavailable"] as const),
        ["shared-credentials-file", "resolved"]
      ])
      assert.match(attempts[0]!.reason, /^skipped/)
      assert.include(attempts[0]!.reason, "dev")
    }))

  it.scoped("a profile named in code drops env even when env is broken", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      home.writeCredentials("[dev]\naws_access_key_id = AKIADEV\naws_secret_access_key = dev-secret\n")
      const { credentials } = getSuccess(
        yield* resolveWith(defaultChain(home), {
          env: home.env({ AWS_ACCESS_KEY_ID: "AKIABROKEN" }),
          session: { profile: "dev" }
        })
      )
      assert.strictEqual(credentials.accessKeyId, "AKIADEV")
    }))

  it.scoped("AWS_PROFILE does not drop env", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      home.writeCredentials("[dev]\naws_access_key_id = AKIADEV\naws_secret_access_key = dev-secret\n")
      const { credentials } = getSuccess(
        yield* resolveWith(defaultChain(home), { env: home.env({ ...envKeys, AWS_PROFILE: "dev" }) })
      )
      assert.strictEqual(credentials.source, "env")
      assert.strictEqual(credentials.accessKeyId, "AKIAENV")
    }))

  it.scoped("explicit keys in the session short-circuit the chain with source explicit", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      // Even a broken env link is never looked at.
      const { attempts, credentials } = getSuccess(
        yield* resolveWith(defaultChain(home), {
          env: home.env({ AWS_ACCESS_KEY_ID: "AKIABROKEN" }),
          session: {
            credentials: { accessKeyId: "AKIAEXPLICIT", secretAccessKey: "explicit-secret", sessionToken: "t" }
          }
        })
      )
      assert.strictEqual(credentials.source, "explicit")
      assert.strictEqual(credentials.accessKeyId, "AKIAEXPLICIT")
      assert.isTrue(Option.isSome(credentials.sessionToken))
      assert.deepStrictEqual(outcomes(attempts), [["explicit", "resolved"]])
    }))
})

describe("CredentialChain: the profile files", () => {
  it.scoped("are read once per resolution, however many links look at them", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      // The winner is config-file, eighth of twelve: every link before it has looked at the
      // profile (assume-role, web identity, SSO, the credentials file, login, the process).
      home.writeConfig("[default]\nregion = eu-west-1\naws_access_key_id = AKIAREADONCE\naws_secret_access_key = s\n")
      home.writeCredentials("[other]\naws_access_key_id = AKIAOTHER\naws_secret_access_key = s\n")
      const reads = new Map<string, number>()
      const counting = Layer.effect(
        FileSystem.FileSystem,
        Effect.map(FileSystem.FileSystem, (fs) => ({
          ...fs,
          readFile: (file: string) => {
            reads.set(file, (reads.get(file) ?? 0) + 1)
            return fs.readFile(file)
          }
        }))
      ).pipe(Layer.provide(NodeFileSystem.layer))
      const exit = yield* defaultChain(home).pipe(
        Layer.provideMerge(AwsSession.layer()),
        Layer.provide(Layer.merge(counting, NodeCommandExecutor.layer.pipe(Layer.provide(NodeFileSystem.layer)))),
        (layer) => Effect.provide(Effect.flatMap(AwsCredentials, (service) => service.get), layer),
        withEnv(home.env()),
        Effect.exit
      )
      assert.strictEqual(getSuccess(exit).source, "config-file")
      assert.strictEqual(reads.get(home.configPath), 1)
      assert.strictEqual(reads.get(home.credentialsPath), 1)
    }))
})

describe("CredentialChain: nothing found", () => {
  it.scoped("NoCredentialsFound lists every link with its reason", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const error = getFailure(yield* resolveWith(defaultChain(home), { env: home.env() }))
      assert.strictEqual(error._tag, "NoCredentialsFound")
      if (error._tag !== "NoCredentialsFound") return
      assert.deepStrictEqual(outcomes(error.attempts), links.map((l) => [l, "unavailable"] as const))
      const lines = error.message.split("\n")
      assert.strictEqual(lines.length, links.length + 1)
      for (const [index, attempt] of error.attempts.entries()) {
        assert.isAtLeast(attempt.durationMs, 0)
        assert.isNotEmpty(attempt.reason)
        assert.strictEqual(lines[index + 1], `  - ${attempt.source}: ${attempt.reason}`)
      }
      assert.include(error.message, "AWS_ACCESS_KEY_ID is not set")
      assert.include(error.message, "AWS_WEB_IDENTITY_TOKEN_FILE is not set")
      assert.include(error.message, "AWS_CREDENTIAL_FILE is not set")
      assert.include(error.message, path.join(home.dir, ".boto"))
      assert.include(error.message, "AWS_CONTAINER_CREDENTIALS_FULL_URI")
      assert.include(error.message, "AWS_EC2_METADATA_DISABLED is true")
    }))

  // Issue 3: no credentials anywhere and an instance metadata service that accepts connections
  // and never answers. botocore needs about two metadata timeouts here (the token PUT, then the
  // IMDSv1 GET); we need one and a quarter (the GET goes out beside the silent PUT), measured
  // against botocore by `npm run bench` (test/bench/blackhole.ts).
  // Here only the outcome is asserted, with a bound that catches a hang, and the time is printed.
  it.scopedLive("IMDS accepting and never answering: NoCredentialsFound with all twelve links, never a hang", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const blackHole = yield* silentServer
      const env = home.env({
        AWS_EC2_METADATA_DISABLED: "false",
        AWS_EC2_METADATA_SERVICE_ENDPOINT: blackHole.url
      })
      const started = performance.now()
      const error = getFailure(yield* resolveWith(defaultChain(home), { env }))
      const elapsedMs = performance.now() - started
      assert.strictEqual(error._tag, "NoCredentialsFound", String(error))
      if (error._tag !== "NoCredentialsFound") return
      assert.deepStrictEqual(outcomes(error.attempts), links.map((l) => [l, "unavailable"] as const))
      const imds = error.attempts.at(-1)!
      assert.include(imds.reason, blackHole.url)
      // The token PUT and, beside it, the IMDSv1 fallback GET: no more requests.
      assert.deepStrictEqual(blackHole.requests(), ["PUT /latest/api/token", "GET /latest/meta-data/iam/security-credentials/"])
      console.log(
        `black-hole IMDS: NoCredentialsFound after ${elapsedMs.toFixed(0)} ms ` +
          `(iam-role ${imds.durationMs.toFixed(0)} ms; default metadata timeout 1 s, botocore needs about 2 s)`
      )
      assert.isBelow(elapsedMs, 10_000)
    }), { timeout: 20_000 })

  it.scoped("a custom chain built with make composes the same way", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const chain = CredentialChain.make(
        Env.layer,
        CredentialChain.skip("sso", "not implemented here"),
        SharedCredentialsFile.layer,
        BotoConfig.layerWith({ defaultPaths: ["~/.boto"] })
      )
      const none = getFailure(yield* resolveWith(chain, { env: home.env() }))
      assert.strictEqual(none._tag, "NoCredentialsFound")
      if (none._tag !== "NoCredentialsFound") return
      assert.deepStrictEqual(
        none.attempts.map((a) => a.source),
        ["env", "sso", "shared-credentials-file", "boto-config"]
      )
      assert.strictEqual(none.attempts[1]!.reason, "not implemented here")

      home.write(".boto", "[Credentials]\naws_access_key_id = AKIABOTO\naws_secret_access_key = s\n")
      const { attempts, credentials } = getSuccess(yield* resolveWith(chain, { env: home.env() }))
      assert.strictEqual(credentials.source, "boto-config")
      assert.deepStrictEqual(outcomes(attempts).at(-1), ["boto-config", "resolved"])
    }))

  it.scoped("orElse continues only when the first link was unavailable", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const chain = CredentialChain.orElse(Env.layer, () => BotoConfig.layerWith({ defaultPaths: ["~/.boto"] }))
      home.write(".boto", "[Credentials]\naws_access_key_id = AKIABOTO\naws_secret_access_key = s\n")
      const ok = getSuccess(yield* resolveWith(chain, { env: home.env() }))
      assert.strictEqual(ok.credentials.source, "boto-config")
      const error = getFailure(yield* resolveWith(chain, { env: home.env({ AWS_ACCESS_KEY_ID: "AKIABROKEN" }) }))
      assert.strictEqual(error._tag, "CredentialsError")
      if (error._tag !== "CredentialsError") return
      assert.strictEqual(error.source, "env")
    }))
})

describe("CredentialChain: errors keep their cause", () => {
  it.scoped("a failing link's cause survives the chain adding attempts", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const cause = new Error("connection reset")
      const failing = Layer.fail(
        new CredentialsError({ source: "container-role", reason: "Unreachable", detail: "endpoint unreachable", cause })
      )
      for (const chain of [CredentialChain.make(failing), CredentialChain.make(Env.layer, failing)]) {
        const error = getFailure(yield* resolveWith(chain, { env: home.env() }))
        assert.strictEqual(error._tag, "CredentialsError")
        if (error._tag !== "CredentialsError") return
        assert.strictEqual(error.cause, cause)
        assert.deepStrictEqual(outcomes(error.attempts ?? []).at(-1), ["container-role", "failed"])
      }
    }))
})

describe("CredentialChain: a link that throws", () => {
  it.scoped("is a typed error that stops the chain, with no message from the defect anywhere", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const secret = "defectMessageWithASecret0000000000000001"
      const throwing = sourceLayer("custom-process", Effect.sync((): Credentials.Credentials => {
        throw new TypeError(`cannot read ${secret}`)
      }))
      const { spans, tracer } = recordingTracer()
      const exit = yield* resolveWith(CredentialChain.make(Env.layer, throwing, SharedCredentialsFile.layer), {
        env: home.env()
      }).pipe(Effect.withTracer(tracer))
      const error = getFailure(exit)
      assert.strictEqual(error._tag, "CredentialsError")
      if (error._tag !== "CredentialsError") return
      assert.strictEqual(error.reason, "InvalidResponse")
      assert.strictEqual(error.source, "custom-process")
      assert.include(error.message, "unexpected TypeError")
      assert.deepStrictEqual(outcomes(error.attempts ?? []), [["env", "unavailable"], ["custom-process", "failed"]])
      for (const text of [error.message, String(error), JSON.stringify(error), util.inspect(error, { depth: 10 })]) {
        assert.notInclude(text, secret)
      }
      for (const span of spans) assert.notInclude(JSON.stringify([...span.attributes.entries()]), secret)
    }))
})

describe("CredentialChain: logging", () => {
  it.scoped("finding credentials logs one debug line naming the source, without the secret", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      home.writeCredentials(
        [
          "[default]",
          "aws_access_key_id = AKIALOGGED",
          "aws_secret_access_key = log-secret-value",
          "aws_session_token = log-token-value"
        ].join("\n")
      )
      const [exit, lines] = yield* withCapturedLogs(
        runWith(defaultChain(home), { env: home.env() }, Effect.flatMap(AwsCredentials, (s) => s.get))
      )
      const credentials = getSuccess(getSuccess(exit))
      assert.strictEqual(credentials.source, "shared-credentials-file")
      const found = lines.filter((line) => line.message.includes("Found credentials"))
      assert.strictEqual(found.length, 1)
      assert.deepStrictEqual(found[0]!.level, LogLevel.Debug)
      assert.strictEqual(found[0]!.annotations.source, "shared-credentials-file")
      assert.include(found[0]!.rendered, "shared-credentials-file")
      for (const line of lines) {
        assert.notInclude(line.rendered, "log-secret-value")
        assert.notInclude(line.rendered, "log-token-value")
      }
    }))
})
