import { afterAll, assert, describe, it } from "@effect/vitest"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as path from "node:path"
import * as AwsSession from "../src/AwsSession.js"
import * as ImdsClient from "../src/internal/imdsClient.js"
import * as ImdsSettings from "../src/internal/imdsSettings.js"
import * as InstanceMetadata from "../src/providers/InstanceMetadata.js"
import { tempHome, withEnv } from "./support/fixtures.js"
import { recordingClient } from "./support/metadataServer.js"
import { missingReason, readVector, vectorsAvailable } from "./support/vectors.js"

/**
 * `aws-config/test-data/imds-config/imds-endpoint-tests.json` from smithy-rs, read at run time.
 * Each case gives an environment, files (`fs`, paths relative to the case, which the harness
 * writes into a temporary directory), optional explicit overrides of the endpoint and of its
 * mode, and the URL of the first request (the token PUT) or an error.
 *
 * Replay: the settings are resolved from a session built on those files, and then the whole
 * source runs against a recording HTTP client that answers nothing, so the request it would send
 * first is checked without contacting 169.254.169.254, fd00:ec2::254 or any other host.
 */
interface EndpointCase {
  readonly docs: string
  readonly env: Record<string, string>
  readonly fs: Record<string, string>
  readonly endpoint_override?: string
  readonly mode_override?: string
  readonly result: { readonly Ok: string } | { readonly Err: string }
}

const cases: ReadonlyArray<EndpointCase> = vectorsAvailable
  ? (JSON.parse(readVector("aws-config/test-data/imds-config/imds-endpoint-tests.json")) as {
    tests: ReadonlyArray<EndpointCase>
  }).tests
  : []

const passed = { count: 0 }

const suite = vectorsAvailable ? describe : describe.skip
const suffix = vectorsAvailable ? "" : ` (skipped: ${missingReason})`

suite(`imds-endpoint-tests.json${suffix}`, () => {
  if (!vectorsAvailable) it(missingReason, () => {})
  cases.forEach((testCase, index) => {
    it.scoped(`${index}: ${testCase.docs}`, () =>
      Effect.gen(function*() {
        const home = yield* tempHome
        for (const [name, content] of Object.entries(testCase.fs)) home.write(name, content)
        // Relative file paths in the case's environment are relative to its file system.
        const env: Record<string, string> = { HOME: home.dir }
        for (const [name, value] of Object.entries(testCase.env)) {
          env[name] = value in testCase.fs ? path.join(home.dir, value) : value
        }
        const { client, requests } = recordingClient()
        const options: InstanceMetadata.Options = {
          endpoint: testCase.endpoint_override,
          endpointMode: testCase.mode_override,
          httpClient: client
        }
        const session = AwsSession.layer().pipe(Layer.provide(NodeFileSystem.layer))
        const run = <A, E>(effect: Effect.Effect<A, E, AwsSession.AwsSession>) =>
          effect.pipe(Effect.provide(session), Effect.either, withEnv(env))

        const settings = yield* run(ImdsSettings.resolveSettings(options))
        const source = yield* run(
          Effect.flatMap(ImdsSettings.makeState, (state) => ImdsClient.resolveCredentials(options, state))
        )

        if ("Ok" in testCase.result) {
          assert.isTrue(Either.isRight(settings), Either.isLeft(settings) ? settings.left.message : "")
          if (Either.isRight(settings)) {
            assert.strictEqual(`${settings.right.endpoint}/latest/api/token`, testCase.result.Ok)
          }
          // The source's first request is the token PUT to that URL; nothing answered, so the
          // source is unavailable (it would be in the default chain too).
          assert.deepStrictEqual(requests[0], {
            method: "PUT",
            url: new URL(testCase.result.Ok).href,
            headers: { "x-aws-ec2-metadata-token-ttl-seconds": "21600" }
          })
          assert.isTrue(Either.isLeft(source) && source.left._tag === "CredentialsUnavailable")
        } else {
          const expected = testCase.result.Err
          assert.isTrue(Either.isLeft(settings))
          if (Either.isLeft(settings)) {
            assert.strictEqual(settings.left._tag, "CredentialsError")
            if (settings.left._tag === "CredentialsError") {
              assert.strictEqual(settings.left.reason, "InvalidConfiguration")
            }
            assert.include(settings.left.message, expected)
          }
          assert.isTrue(Either.isLeft(source) && source.left._tag === "CredentialsError")
          assert.strictEqual(requests.length, 0)
        }
        passed.count++
      }))
  })
})

afterAll(() => {
  if (!vectorsAvailable) return
  console.log(`imds-endpoint-tests.json vectors: ${passed.count}/${cases.length} passed`)
})
