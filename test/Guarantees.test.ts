/**
 * Regression tests of issue 10's defects 4 to 10, one or more each: what a hostile or broken
 * machine could make the library print, hang on or crash with, and what it does instead.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as fs from "node:fs"
import * as path from "node:path"
import type { CredentialsError } from "../src/CredentialsError.js"
import * as DateTime from "effect/DateTime"
import { explain, formatHuman } from "../src/internal/explain.js"
import * as CallFailure from "../src/internal/callFailure.js"
import * as SdkCall from "../src/internal/sdkCall.js"
import { parseTimestamp } from "../src/internal/time.js"
import * as Container from "../src/providers/ContainerCredentials.js"
import * as EnvCredentials from "../src/internal/envCredentials.js"
import * as InstanceMetadata from "../src/providers/InstanceMetadata.js"
import * as Process from "../src/providers/ProcessCredentials.js"
import * as WebIdentity from "../src/providers/WebIdentity.js"
import { defaultChain, getFailure, getSuccess, platformLayer, resolveWith, tempHome, withCapturedLogs, withEnv } from "./support/fixtures.js"
import { metadataServer } from "./support/metadataServer.js"
import { recordingTracer, renderSpans } from "./support/spans.js"

const imdsEnv = (url: string, extra: Record<string, string> = {}) => ({
  AWS_EC2_METADATA_DISABLED: "false",
  AWS_EC2_METADATA_SERVICE_ENDPOINT: url,
  ...extra
})

const asError = (error: unknown): CredentialsError => {
  assert.strictEqual((error as { _tag?: string })._tag, "CredentialsError", String(error))
  return error as CredentialsError
}

describe("4. a password in a URL is never echoed", () => {
  for (
    const [variable, layer] of [
      ["AWS_CONTAINER_CREDENTIALS_FULL_URI", Container.layer],
      ["AWS_EC2_METADATA_SERVICE_ENDPOINT", InstanceMetadata.layer]
    ] as const
  ) {
    for (const raw of ["http://user:hunter2secret@bad host/creds", "http://user:hunter2secret@127.0.0.1:1/x?token=hunter2secret"]) {
      it.scoped(`${variable}=${raw}`, () =>
        Effect.gen(function*() {
          const home = yield* tempHome
          const error = asError(
            getFailure(yield* resolveWith(layer, { env: home.env({ AWS_EC2_METADATA_DISABLED: "false", [variable]: raw }) }))
          )
          assert.strictEqual(error.reason, "InvalidConfiguration")
          assert.notInclude(error.message, "hunter2secret")
          assert.notInclude(JSON.stringify(error), "hunter2secret")
        }))
    }
  }
})

describe("5. backoff is capped and attempts bounded", () => {
  it.scopedLive("AWS_METADATA_SERVICE_NUM_ATTEMPTS=1000 against a server answering 500: 10 attempts, at once, with a warning", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const server = yield* metadataServer()
      server.fault("roleList", { _tag: "Status", status: 500 })
      const started = Date.now()
      const [exit, lines] = yield* withCapturedLogs(
        resolveWith(InstanceMetadata.layer, { env: home.env(imdsEnv(server.url, { AWS_METADATA_SERVICE_NUM_ATTEMPTS: "1000" })) })
          .pipe(Effect.flatten)
      )
      assert.isTrue(Exit.isFailure(exit))
      assert.strictEqual(server.counts.roleList, 10)
      assert.isBelow(Date.now() - started, 5_000)
      assert.isTrue(lines.some((line) => line.rendered.includes("using the maximum, 10")))
    }))

  it.scopedLive("a container endpoint answering 500 with 10 attempts: waits capped at 1 s, done within the deadline", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const server = yield* metadataServer()
      server.fault("container", { _tag: "Status", status: 500 })
      const started = Date.now()
      asError(getFailure(
        yield* resolveWith(Container.layerWith({ maxAttempts: 10, timeout: "1 second" }), {
          env: home.env({ AWS_CONTAINER_CREDENTIALS_FULL_URI: `${server.url}/credentials` })
        })
      ))
      assert.strictEqual(server.counts.container, 10)
      // Doubling from 100 ms without a cap would wait 51 s; capped at 1 s it is under 9 s.
      assert.isBelow(Date.now() - started, 12_000)
    }), { timeout: 30_000 })
})

describe("6. outside text is scrubbed: server bodies, environment values", () => {
  it.scoped("an IMDS error body that echoes the request's token is not shown", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const server = yield* metadataServer()
      server.fault("roleCredentials", {
        _tag: "Code",
        code: "AccessDenied",
        message: "bad token x-aws-ec2-metadata-token: AQAEAFakeTokenEchoedBack0000000000000000000000=="
      })
      const error = asError(getFailure(yield* resolveWith(InstanceMetadata.layer, { env: home.env(imdsEnv(server.url)) })))
      assert.notInclude(error.message, "AQAEAFakeTokenEchoedBack")
      assert.include(error.message, "AccessDenied")
    }))

  it.effect("AWS_CREDENTIAL_EXPIRATION holding a secret is not printed back", () =>
    Effect.gen(function*() {
      const error = asError(getFailure(
        yield* Effect.exit(EnvCredentials.fetchCredentials.pipe(withEnv({
          AWS_ACCESS_KEY_ID: "AKIAEXPIRATIONTEST01",
          AWS_SECRET_ACCESS_KEY: "s",
          AWS_CREDENTIAL_EXPIRATION: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
        })))
      ))
      assert.strictEqual(error.reason, "InvalidConfiguration")
      assert.notInclude(error.message, "wJalrXUtnFEMI/K7MDENG")
    }))
})

describe("6b. what explain, logs and spans show of outside values (issue 10 audit)", () => {
  it.effect("terminal escapes in an access key id, an account id and a secret never reach the terminal", () =>
    Effect.gen(function*() {
      const explanation = yield* explain({}).pipe(
        Effect.provide(platformLayer),
        withEnv({
          AWS_EC2_METADATA_DISABLED: "true",
          HOME: "/nonexistent-home",
          AWS_ACCESS_KEY_ID: "AKIA\u001b]0;title\u0007XX",
          AWS_SECRET_ACCESS_KEY: "wJalrXUtnFEMI/K7MDENG/bPxRfiCY\u001b[2J",
          AWS_ACCOUNT_ID: "1\u001b[5m"
        })
      )
      const human = formatHuman(explanation, yield* DateTime.now)
      assert.notMatch(human, /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/)
      assert.include(human, "AKIA\\e]0;title\\x07XX")
    }))

  it.scoped("a container URL's query is in no attempt, provenance, log line or span", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const server = yield* metadataServer()
      const signature = "Q5ecretSignature0123456789abcdef"
      const { spans, tracer } = recordingTracer()
      const [exit, lines] = yield* withCapturedLogs(
        resolveWith(Container.layer, {
          env: home.env({ AWS_CONTAINER_CREDENTIALS_FULL_URI: `${server.url}/credentials?X-Amz-Signature=${signature}` })
        }).pipe(Effect.flatten, Effect.withTracer(tracer))
      )
      const resolved = getSuccess(exit)
      const texts = [
        resolved.credentials.provenance,
        JSON.stringify(resolved.attempts),
        ...lines.map((line) => line.rendered),
        renderSpans(spans)
      ].join("\n")
      assert.include(texts, "/credentials")
      assert.notInclude(texts, signature)
    }))
})

describe("7. bad input is a typed error, not a defect", () => {
  it.scopedLive("a credential_process printing 100,000 nested arrays: InvalidProcessOutput (nesting too deep)", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const out = home.write("deep.json", "[".repeat(100_000) + "]".repeat(100_000))
      home.writeConfig(`[default]\ncredential_process = ${home.script("deep.sh", `cat ${out}`)}\n`)
      const error = asError(getFailure(yield* resolveWith(Process.layer, { env: home.env() })))
      assert.strictEqual(error.reason, "InvalidProcessOutput")
      assert.include(error.message, "nested more than 64 levels")
    }))

  for (const [name, token] of [["NUL", "abc\u0000def"], ["\\x01", "abc\u0001"], ["DEL", "abc\u007f"], ["an emoji", "abc🔑"]]) {
    it.scoped(`an authorization token holding ${name}: InvalidConfiguration naming the character`, () =>
      Effect.gen(function*() {
        const home = yield* tempHome
        const error = asError(getFailure(
          yield* resolveWith(Container.layer, {
            env: home.env({
              AWS_CONTAINER_CREDENTIALS_FULL_URI: "http://127.0.0.1:1/creds",
              AWS_CONTAINER_AUTHORIZATION_TOKEN: token!
            })
          })
        ))
        assert.strictEqual(error.reason, "InvalidConfiguration")
        assert.include(error.message, "a character an HTTP header cannot carry")
      }))
  }

  for (
    const [name, command, says] of [
      ["a NUL in an argument", "/bin/echo a\u0000b", "NUL character"],
      ["an argument over 128 KiB", `/bin/echo ${"y".repeat(140_000)}`, "over 128 KiB"]
    ] as const
  ) {
    it.scopedLive(`a credential_process with ${name}: InvalidConfiguration, not a defect`, () =>
      Effect.gen(function*() {
        const home = yield* tempHome
        home.writeConfig(`[default]\ncredential_process = ${command}\n`)
        const error = asError(getFailure(yield* resolveWith(Process.layer, { env: home.env() })))
        assert.strictEqual(error.reason, "InvalidConfiguration")
        assert.include(error.message, says)
        assert.notInclude(error.message, "yyyyyyyy")
      }))
  }
})

describe("9b. a value no header can carry is said at once, not retried as a connection failure", () => {
  it.scopedLive("a source profile's session token holding an emoji: InvalidConfiguration before any request", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      home.writeConfig(
        "[profile base]\naws_access_key_id = AKIAEXAMPLE\naws_secret_access_key = secretsecretsecret\n" +
          "aws_session_token = tok\u{1F600}en\n[default]\nrole_arn = arn:aws:iam::123456789012:role/r\n" +
          "source_profile = base\nregion = us-east-1\n"
      )
      const error = asError(getFailure(
        yield* resolveWith(defaultChain(home), { env: home.env({ AWS_ENDPOINT_URL_STS: "http://127.0.0.1:9" }) })
      ))
      assert.strictEqual(error.reason, "InvalidConfiguration")
      assert.include(error.message, "U+1F600 at position 4")
      assert.notInclude(error.message, "attempts")
    }))
})

describe("8. smaller defects", () => {
  it("impossible dates are refused, not rolled over", () => {
    for (const text of ["2030-02-30T00:00:00Z", "2029-02-29T00:00:00Z", "2030-13-01T00:00:00Z", "2030-01-01T24:00:00Z"]) {
      assert.isTrue(parseTimestamp(text)._tag === "None", text)
    }
    assert.isTrue(parseTimestamp("2028-02-29T23:59:59Z")._tag === "Some")
  })

  it.scoped("a metadata answer over its size cap is InvalidResponse, not an outage", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const server = yield* metadataServer()
      server.fault("roleCredentials", { _tag: "Status", status: 200, body: "x".repeat(200_000) })
      const error = asError(getFailure(yield* resolveWith(InstanceMetadata.layer, { env: home.env(imdsEnv(server.url)) })))
      assert.strictEqual(error.reason, "InvalidResponse")
      assert.include(error.message, "larger than")
    }))

  it.scoped("ProfileNotFound among 100,000 profiles: a short message that says how many were left out", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      home.writeCredentials(Array.from({ length: 100_000 }, (_, i) => `[p${i}]\naws_access_key_id = A\n`).join(""))
      const error = asError(getFailure(yield* resolveWith(defaultChain(home), { env: home.env({ AWS_PROFILE: "missing" }) })))
      assert.strictEqual(error.reason, "ProfileNotFound")
      assert.isBelow(error.message.length, 2_000)
      assert.include(error.message, "and 99,980 more")
    }))

  it.scoped("a 20 MB region is not printed back whole", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const explanation = yield* explain({}).pipe(
        Effect.provide(platformLayer),
        withEnv(home.env({ AWS_ACCESS_KEY_ID: "AKIAREGIONTEST000001", AWS_SECRET_ACCESS_KEY: "s", AWS_REGION: "r".repeat(20_000_000) }))
      )
      assert.isBelow(JSON.stringify(explanation.report).length, 10_000)
    }))

  it.scoped("a region that is not a region name: InvalidConfiguration before STS is called", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const token = home.write("token", "header.payload.signature")
      const error = asError(getFailure(
        yield* resolveWith(WebIdentity.layer, {
          env: home.env({
            AWS_WEB_IDENTITY_TOKEN_FILE: token,
            AWS_ROLE_ARN: "arn:aws:iam::123456789012:role/r",
            AWS_REGION: "us-east-1/../../evil"
          })
        })
      ))
      assert.strictEqual(error.reason, "InvalidConfiguration")
      assert.include(error.message, "is not a valid region name")
    }))

  it.scopedLive("a credential_process whose child keeps stdout open after exit 0: said so, at once", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const json = JSON.stringify({ Version: 1, AccessKeyId: "AKIA", SecretAccessKey: "s" })
      home.writeConfig(`[default]\ncredential_process = ${home.script("fork.sh", `printf '%s' '${json}'\nsleep 30 &`)}\n`)
      const started = Date.now()
      const error = asError(getFailure(yield* resolveWith(Process.layer, { env: home.env() })))
      assert.strictEqual(error.reason, "ProcessFailed")
      assert.include(error.message, "exited with code 0, but something it started kept its output open")
      assert.isBelow(Date.now() - started, 10_000)
    }))
})

describe("9. transient answers are retried within the budget; deterministic failures are not", () => {
  it.scoped("the metadata service answering 503 once, then credentials: resolved (default settings)", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const server = yield* metadataServer()
      server.fault("token", { _tag: "Status", status: 503 }, 1)
      server.fault("roleCredentials", { _tag: "Status", status: 503 }, 1)
      const { credentials } = getSuccess(yield* resolveWith(InstanceMetadata.layer, { env: home.env(imdsEnv(server.url)) }))
      assert.strictEqual(credentials.source, "iam-role")
      assert.include(credentials.provenance, "IMDSv2")
    }))

  it.scopedLive("a container endpoint answering 503 once, then credentials: resolved", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const server = yield* metadataServer()
      server.fault("container", { _tag: "Status", status: 503 }, 1)
      const { credentials } = getSuccess(
        yield* resolveWith(Container.layer, { env: home.env({ AWS_CONTAINER_CREDENTIALS_FULL_URI: `${server.url}/credentials` }) })
      )
      assert.strictEqual(credentials.source, "container-role")
      assert.strictEqual(server.counts.container, 2)
    }))

  it("an SDK that refuses to build the request (EndpointError: FIPS with a custom endpoint) is not retried, nor called a connection failure", () => {
    const failure = CallFailure.classify(
      Object.assign(new Error("Invalid Configuration: FIPS and custom endpoint are not supported"), { name: "EndpointError" })
    )
    assert.strictEqual(failure._tag, "Local")
    assert.isFalse(CallFailure.isTransient(failure))
    const described = SdkCall.describe(failure, { timeout: Duration.seconds(1), attempts: 3 })
    assert.notInclude(described, "connection failed")
    assert.notInclude(described, "attempts")
    assert.include(described, "EndpointError: Invalid Configuration: FIPS and custom endpoint are not supported")
    for (const code of ["ECONNREFUSED", "ECONNRESET", "UND_ERR_SOCKET", "EAI_AGAIN"]) {
      assert.strictEqual(CallFailure.classify(Object.assign(new Error("x"), { code }))._tag, "Network", code)
    }
  })

  it.scoped("a 4xx is not retried", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const server = yield* metadataServer()
      server.fault("container", { _tag: "Status", status: 403 })
      asError(getFailure(
        yield* resolveWith(Container.layer, { env: home.env({ AWS_CONTAINER_CREDENTIALS_FULL_URI: `${server.url}/credentials` }) })
      ))
      assert.strictEqual(server.counts.container, 1)
    }))
})

describe("10. a value of only whitespace counts as unset", () => {
  it.effect("environment variables", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(EnvCredentials.fetchCredentials.pipe(withEnv({ AWS_ACCESS_KEY_ID: "   ", AWS_SECRET_ACCESS_KEY: "\t" })))
      assert.strictEqual((getFailure(exit) as { _tag: string })._tag, "CredentialsUnavailable")
    }))

  it.scoped("profile keys", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      fs.mkdirSync(path.join(home.dir, ".aws"), { recursive: true })
      home.writeConfig("[default]\nregion =    \nweb_identity_token_file =  \n")
      const explanation = yield* explain({}).pipe(Effect.provide(platformLayer), withEnv(home.env()))
      assert.strictEqual(explanation.report.region.name, null)
    }))
})
