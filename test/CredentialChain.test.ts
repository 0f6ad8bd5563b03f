import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as path from "node:path"
import { AwsCredentials } from "../src/AwsCredentials.js"
import * as CredentialChain from "../src/CredentialChain.js"
import type * as Credentials from "../src/Credentials.js"
import { CredentialsError } from "../src/CredentialsError.js"
import * as BotoConfig from "../src/providers/BotoConfig.js"
import * as Env from "../src/providers/Env.js"
import * as SharedCredentialsFile from "../src/providers/SharedCredentialsFile.js"
import {
  defaultChain,
  getFailure,
  getSuccess,
  outcomes,
  processJson,
  resolveWith,
  runWith,
  shellQuote,
  type TempHome,
  tempHome,
  withCapturedLogs
} from "./support/fixtures.js"

/** The default chain's links, in order. */
const links = [
  "env",
  "shared-credentials-file",
  "custom-process",
  "config-file",
  "ec2-credentials-file",
  "boto-config"
] as const satisfies ReadonlyArray<Credentials.Source>

type Link = typeof links[number]

/** What a test writes: environment variables and lines of the default profile in each file. */
interface Setup {
  readonly env: Record<string, string>
  readonly config: Array<string>
  readonly credentials: Array<string>
}

const keyOf = (link: Link) => `AKIA${link.toUpperCase().replace(/-/g, "")}`

/** Configures a link with working keys whose access key id names the link. */
const configure = (home: TempHome, setup: Setup, link: Link): void => {
  const key = keyOf(link)
  switch (link) {
    case "env":
      Object.assign(setup.env, { AWS_ACCESS_KEY_ID: key, AWS_SECRET_ACCESS_KEY: "env-secret" })
      return
    case "shared-credentials-file":
      setup.credentials.push(`aws_access_key_id = ${key}`, "aws_secret_access_key = file-secret")
      return
    case "custom-process": {
      const script = home.script(
        "process.sh",
        `printf '%s' ${shellQuote(processJson({ AccessKeyId: key, SecretAccessKey: "process-secret" }))}`
      )
      setup.config.push(`credential_process = ${script}`)
      return
    }
    case "config-file":
      setup.config.push(`aws_access_key_id = ${key}`, "aws_secret_access_key = config-secret")
      return
    case "ec2-credentials-file":
      setup.env.AWS_CREDENTIAL_FILE = home.write("ec2.cred", `AWSAccessKeyId=${key}\nAWSSecretKey=ec2-secret\n`)
      return
    case "boto-config":
      home.write(".boto", `[Credentials]\naws_access_key_id = ${key}\naws_secret_access_key = boto-secret\n`)
      return
  }
}

/** Configures a link so that it is configured but broken, and says which reason it fails with. */
const configureBroken = (home: TempHome, setup: Setup, link: Link): string => {
  switch (link) {
    case "env":
      setup.env.AWS_ACCESS_KEY_ID = "AKIABROKEN"
      return "PartialCredentials"
    case "shared-credentials-file":
      setup.credentials.push("aws_access_key_id = AKIABROKEN")
      return "PartialCredentials"
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
  }
}

/** Writes the files of a setup and returns its environment. */
const materialize = (home: TempHome, setup: Setup) => {
  if (setup.config.length > 0) home.writeConfig(["[default]", ...setup.config, ""].join("\n"))
  if (setup.credentials.length > 0) home.writeCredentials(["[default]", ...setup.credentials, ""].join("\n"))
  return home.env(setup.env)
}

const emptySetup = (): Setup => ({ env: {}, config: [], credentials: [] })

describe("CredentialChain.layerDefault: each link", () => {
  for (const [index, link] of links.entries()) {
    it.scoped(`${link} alone: the earlier links are unavailable and ${link} wins`, () =>
      Effect.gen(function*() {
        const home = yield* tempHome
        const setup = emptySetup()
        configure(home, setup, link)
        const env = materialize(home, setup)
        const { attempts, credentials } = getSuccess(yield* resolveWith(defaultChain(home), { env }))
        assert.strictEqual(credentials.source, link)
        assert.strictEqual(credentials.accessKeyId, keyOf(link))
        assert.deepStrictEqual(outcomes(attempts), [
          ...links.slice(0, index).map((l) => [l, "unavailable"] as const),
          [link, "resolved"]
        ])
        for (const attempt of attempts) {
          assert.isAtLeast(attempt.durationMs, 0)
          assert.isNotEmpty(attempt.reason)
        }
      }))

    it.scoped(`${link} broken: the chain stops there, although every later link is configured`, () =>
      Effect.gen(function*() {
        const home = yield* tempHome
        const setup = emptySetup()
        const reason = configureBroken(home, setup, link)
        for (const later of links.slice(index + 1)) configure(home, setup, later)
        const env = materialize(home, setup)
        const error = getFailure(yield* resolveWith(defaultChain(home), { env }))
        assert.strictEqual(error._tag, "CredentialsError")
        if (error._tag !== "CredentialsError") return
        assert.strictEqual(error.source, link)
        assert.strictEqual(error.reason, reason)
        assert.deepStrictEqual(outcomes(error.attempts ?? []), [
          ...links.slice(0, index).map((l) => [l, "unavailable"] as const),
          [link, "failed"]
        ])
        const failed = error.attempts?.[index]
        assert.isDefined(failed)
        assert.strictEqual(failed?.reason, error.message)
        assert.isAtLeast(failed?.durationMs ?? -1, 0)
      }))
  }
})

describe("CredentialChain.layerDefault: order", () => {
  for (const [index, earlier] of links.slice(0, -1).entries()) {
    const later = links[index + 1]!
    it.scoped(`${earlier} beats ${later} when both are configured`, () =>
      Effect.gen(function*() {
        const home = yield* tempHome
        const setup = emptySetup()
        configure(home, setup, earlier)
        configure(home, setup, later)
        const env = materialize(home, setup)
        const { attempts, credentials } = getSuccess(yield* resolveWith(defaultChain(home), { env }))
        assert.strictEqual(credentials.source, earlier)
        assert.strictEqual(credentials.accessKeyId, keyOf(earlier))
        assert.deepStrictEqual(attempts.at(-1)?.source, earlier)
        assert.isFalse(attempts.some((a) => a.source === later))
      }))
  }

  it.scoped("with every link configured, env wins after a single attempt", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const setup = emptySetup()
      for (const link of links) configure(home, setup, link)
      const env = materialize(home, setup)
      const { attempts, credentials } = getSuccess(yield* resolveWith(defaultChain(home), { env }))
      assert.strictEqual(credentials.source, "env")
      assert.deepStrictEqual(outcomes(attempts), [["env", "resolved"]])
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
      assert.deepStrictEqual(outcomes(attempts), [["env", "unavailable"], ["shared-credentials-file", "resolved"]])
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
      assert.include(error.message, "AWS_CREDENTIAL_FILE is not set")
      assert.include(error.message, path.join(home.dir, ".boto"))
    }))

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
