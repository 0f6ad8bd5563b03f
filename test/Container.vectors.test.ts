import { afterAll, assert, describe, it } from "@effect/vitest"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as ContainerFetcher from "../src/internal/container.js"
import { settingsOf } from "./support/containerSettings.js"
import { withEnv } from "./support/fixtures.js"
import { recordingClient } from "./support/metadataServer.js"
import { missingReason, readVector, vectorsAvailable } from "./support/vectors.js"



/**
 * `aws-config/test-data/ecs-tests.json` from smithy-rs, read at run time: an environment and
 * the URL the container provider uses, or an error.
 *
 * Replay: the endpoint is resolved from the environment, with host names looked up in a fixed
 * table as the Rust SDK's own harness does (`localhost` is 127.0.0.1; nothing else resolves),
 * and then the whole source runs against a recording HTTP client that answers nothing, so its
 * request is checked without contacting 169.254.170.2, 169.254.170.23, fd00:ec2::23 or any other
 * host. `ErrorContains` texts are matched in our messages; "No environment variables were set"
 * is our `CredentialsUnavailable` (the chain moves on), whose reason names both variables.
 */
interface EcsCase {
  readonly docs: string
  readonly env: Record<string, string>
  readonly result: { readonly Ok: string } | { readonly ErrorContains: string }
}

const cases: ReadonlyArray<EcsCase> = vectorsAvailable
  ? (JSON.parse(readVector("aws-config/test-data/ecs-tests.json")) as { tests: ReadonlyArray<EcsCase> }).tests
  : []

const testDns = (host: string) =>
  host === "localhost" ? Effect.succeed(["127.0.0.1"]) : Effect.fail(new Error(`no such host ${host}`))

const passed = { count: 0 }

const suite = vectorsAvailable ? describe : describe.skip
const suffix = vectorsAvailable ? "" : ` (skipped: ${missingReason})`

suite(`ecs-tests.json${suffix}`, () => {
  if (!vectorsAvailable) it(missingReason, () => {})
  cases.forEach((testCase, index) => {
    it.effect(`${index}: ${testCase.docs}`, () =>
      Effect.gen(function*() {
        const endpoint = yield* ContainerFetcher.resolveEndpoint(settingsOf({ lookup: testDns })).pipe(
          Effect.either,
          withEnv(testCase.env)
        )
        const { client, requests } = recordingClient()
        const source = yield* ContainerFetcher.fetchCredentials(settingsOf({ lookup: testDns, httpClient: client, maxAttempts: 1 })).pipe(
          Effect.provide(NodeFileSystem.layer),
          Effect.either,
          withEnv(testCase.env)
        )
        if ("Ok" in testCase.result) {
          assert.isTrue(Either.isRight(endpoint), Either.isLeft(endpoint) ? endpoint.left.message : "")
          if (Either.isRight(endpoint)) assert.strictEqual(endpoint.right.url, testCase.result.Ok)
          assert.deepStrictEqual(requests.map((r) => [r.method, r.url]), [["GET", testCase.result.Ok]])
          assert.isTrue(Either.isLeft(source) && source.left._tag === "CredentialsError")
          if (Either.isLeft(source) && source.left._tag === "CredentialsError") {
            assert.strictEqual(source.left.reason, "Unreachable")
          }
        } else {
          const expected = testCase.result.ErrorContains
          assert.isTrue(Either.isLeft(endpoint))
          if (Either.isLeft(endpoint)) {
            if (expected.startsWith("No environment variables were set")) {
              assert.strictEqual(endpoint.left._tag, "CredentialsUnavailable")
              assert.include(endpoint.left.message, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
              assert.include(endpoint.left.message, "AWS_CONTAINER_CREDENTIALS_FULL_URI")
            } else {
              assert.strictEqual(endpoint.left._tag, "CredentialsError")
              assert.include(endpoint.left.message, expected)
            }
          }
          assert.isTrue(Either.isLeft(source) && source.left._tag === (Either.isLeft(endpoint) && endpoint.left._tag))
          assert.strictEqual(requests.length, 0)
        }
        passed.count++
      }))
  })
})

afterAll(() => {
  if (!vectorsAvailable) return
  console.log(`ecs-tests.json vectors: ${passed.count}/${cases.length} passed`)
})
