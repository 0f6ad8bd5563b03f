/**
 * `explain` with `verify`: STS GetCallerIdentity with the resolved credentials, against the
 * loopback fake STS (`support/stsServer.ts`): the identity, a rejection (exit status 3, the
 * sentence naming the masked key, the source and the provenance), and the outcomes without a
 * verdict (unreachable, no answer in time, throttled, configuration), which keep exit status 0.
 * Nothing the server wrote besides its error code reaches the report: planted secrets in its
 * message never show.
 */
import { assert, describe, it } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as net from "node:net"
import * as path from "node:path"
import { explain, type Explanation, formatHuman } from "../src/internal/explain.js"
import type * as Verify from "../src/internal/verify.js"
import { platformLayer, type TempHome, tempHome, withEnv } from "./support/fixtures.js"
import { assertNoSecrets } from "./support/secrets.js"
import * as StsServer from "./support/stsServer.js"

const accessKeyId = "AKIAVERIFY0000001WXYZ"
const secret = "verifySecretThatIsNeverShown/000000000001"
const token = "verifySessionTokenNeverShown0000000000000001"
const planted = "plantedServerSecret/0000000000000000000000042"

const run = (
  home: TempHome,
  env: Record<string, string>,
  options: { profile?: string; verify?: boolean | Verify.Options } = {}
) =>
  explain({
    ...options,
    chain: { botoConfig: { defaultPaths: [path.join(home.dir, "boto.cfg")] }, process: { timeout: "5 seconds" } }
  }).pipe(withEnv(home.env(env)), Effect.provide(platformLayer))

const envKeys = (url: string, vars: Record<string, string> = {}) => ({
  AWS_ACCESS_KEY_ID: accessKeyId,
  AWS_SECRET_ACCESS_KEY: secret,
  AWS_SESSION_TOKEN: token,
  AWS_REGION: "eu-west-1",
  AWS_ENDPOINT_URL_STS: url,
  ...vars
})

/** Every form of the report, JSON and human, free of the credentials' secrets and the planted one. */
const assertClean = (explanation: Explanation) => {
  assertNoSecrets(explanation.report, [secret, token, planted])
  const human = formatHuman(explanation, DateTime.unsafeMake(0))
  for (const value of [secret, token, planted]) assert.notInclude(human, value)
}

/** A loopback port nothing listens on (bound, then closed). */
const closedPort: Effect.Effect<number> = Effect.async((resume) => {
  const server = net.createServer()
  server.listen(0, "127.0.0.1", () => {
    const address = server.address()
    const port = typeof address === "object" && address !== null ? address.port : 0
    server.close(() => resume(Effect.succeed(port)))
  })
})

describe("explain with verify", () => {
  it.scoped("accepted: identity from GetCallerIdentity, signed with the resolved key for the session's region", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const sts = yield* StsServer.make()
      const explanation = yield* run(home, envKeys(sts.url), { verify: true })
      assert.strictEqual(explanation.exitCode, 0)
      assert.deepStrictEqual(explanation.report.identity, {
        account: "123456789012",
        arn: "arn:aws:iam::123456789012:user/fake",
        userId: "AIDAFAKEWXYZ"
      })
      assert.isUndefined(explanation.report.verification)
      const calls = sts.calls("GetCallerIdentity")
      assert.strictEqual(calls.length, 1)
      assert.strictEqual(calls[0]!.accessKeyId, accessKeyId)
      assert.strictEqual(calls[0]!.signingRegion, "eu-west-1")
      assert.strictEqual(calls[0]!.sessionToken, token)
      const human = formatHuman(explanation, DateTime.unsafeMake(0))
      assert.include(human, "identity       account 123456789012, arn arn:aws:iam::123456789012:user/fake")
      assertClean(explanation)
    }))

  it.scoped("without verify, or without credentials, nothing is asked and the report has no identity", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const sts = yield* StsServer.make()
      const plain = yield* run(home, envKeys(sts.url))
      assert.strictEqual(plain.exitCode, 0)
      assert.deepStrictEqual(Object.keys(plain.report).sort(), ["attempts", "credentials", "ok", "profile", "region"])
      const none = yield* run(home, { AWS_ENDPOINT_URL_STS: sts.url }, { verify: true })
      assert.strictEqual(none.exitCode, 1)
      assert.isFalse("identity" in none.report)
      assert.isFalse("verification" in none.report)
      assert.strictEqual(sts.requests.length, 0)
    }))

  it.scoped("rejected: exit status 3, STS's code, the masked key, the source and the provenance; the server's words dropped", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const sts = yield* StsServer.make()
      home.writeCredentials(`[dev]\naws_access_key_id = ${accessKeyId}\naws_secret_access_key = ${secret}\n`)
      sts.inject(StsServer.Fault.error(403, "SignatureDoesNotMatch", `aws_secret_access_key = ${planted} ${secret}`))
      const explanation = yield* run(home, { AWS_REGION: "eu-west-1", AWS_ENDPOINT_URL_STS: sts.url }, {
        profile: "dev",
        verify: true
      })
      assert.strictEqual(explanation.exitCode, 3)
      assert.isTrue(explanation.report.ok)
      assert.isNull(explanation.report.identity)
      assert.deepStrictEqual(explanation.report.verification, {
        code: "SignatureDoesNotMatch",
        outcome: "rejected",
        message: "STS GetCallerIdentity: SignatureDoesNotMatch: the secret key does not match access key " +
          `AKIA...WXYZ, from profile dev in ${home.credentialsPath}:2 (shared-credentials-file)`
      })
      const human = formatHuman(explanation, DateTime.unsafeMake(0))
      assert.include(human, "verification   rejected: STS GetCallerIdentity: SignatureDoesNotMatch: ")
      assertClean(explanation)
    }))

  it.scoped("an error that says nothing about the credentials (a proxy's 403, not STS): no verdict, exit status 0", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const sts = yield* StsServer.make()
      sts.inject(StsServer.Fault.error(403, "SomethingNew", `SessionToken: ${planted}`))
      const explanation = yield* run(home, envKeys(sts.url), { verify: true })
      assert.strictEqual(explanation.exitCode, 0)
      assert.isNull(explanation.report.identity)
      assert.strictEqual(explanation.report.verification?.code, "ServiceError")
      assert.strictEqual(explanation.report.verification?.outcome, "unverified")
      assert.include(explanation.report.verification?.message ?? "", "SomethingNew")
      assertClean(explanation)
    }))

  it.scoped("an unreachable endpoint: Unreachable, identity null, exit status 0", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const port = yield* closedPort
      const explanation = yield* run(home, envKeys(`http://127.0.0.1:${port}`), { verify: { maxAttempts: 1 } })
      assert.strictEqual(explanation.exitCode, 0)
      assert.isNull(explanation.report.identity)
      assert.strictEqual(explanation.report.verification?.code, "Unreachable")
      assert.strictEqual(explanation.report.verification?.outcome, "unverified")
      assert.include(explanation.report.verification?.message ?? "", `http://127.0.0.1:${port}`)
      assert.include(explanation.report.verification?.message ?? "", "could not be reached for GetCallerIdentity")
      const human = formatHuman(explanation, DateTime.unsafeMake(0))
      assert.include(human, "verification   not verified (Unreachable): ")
      assertClean(explanation)
    }))

  // The live clock: the attempt's timeout and the backoff between attempts must pass (short ones).
  it.scopedLive("a server that never answers: Timeout, exit status 0", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const sts = yield* StsServer.make()
      sts.inject(StsServer.Fault.slow(600_000))
      const explanation = yield* run(home, envKeys(sts.url), { verify: { timeout: "200 millis", maxAttempts: 1 } })
      assert.strictEqual(explanation.exitCode, 0)
      assert.isNull(explanation.report.identity)
      assert.deepStrictEqual(explanation.report.verification, {
        code: "Timeout",
        outcome: "unverified",
        message: `STS in eu-west-1 (${sts.url}, AWS_ENDPOINT_URL_STS) did not answer GetCallerIdentity within 200ms`
      })
      assert.strictEqual(sts.calls("GetCallerIdentity").length, 1)
    }))

  it.scopedLive("throttled on every attempt: no verdict (ServiceUnavailable), retried, exit status 0", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const sts = yield* StsServer.make()
      sts.inject(StsServer.Fault.throttling, StsServer.Fault.throttling)
      const explanation = yield* run(home, envKeys(sts.url), { verify: { maxAttempts: 2 } })
      assert.strictEqual(explanation.exitCode, 0)
      assert.strictEqual(explanation.report.verification?.code, "ServiceUnavailable")
      assert.include(explanation.report.verification?.message ?? "", "(after 2 attempts)")
      assert.strictEqual(sts.calls("GetCallerIdentity").length, 2)
    }))

  it.scoped("STS settings that do not hold: InvalidConfiguration, nothing sent, exit status 0", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const sts = yield* StsServer.make()
      const explanation = yield* run(home, envKeys(sts.url, { AWS_STS_REGIONAL_ENDPOINTS: "sideways" }), { verify: true })
      assert.strictEqual(explanation.exitCode, 0)
      assert.strictEqual(explanation.report.verification?.code, "InvalidConfiguration")
      assert.include(explanation.report.verification?.message ?? "", "sts_regional_endpoints")
      assert.strictEqual(sts.requests.length, 0)
    }))
})
