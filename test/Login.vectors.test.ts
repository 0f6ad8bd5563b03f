/**
 * The `aws login` vectors of the AWS SDK for Rust (`login-provider-test-cases.json`): a config
 * file, the login cache's files, the sign-in calls expected (with their answers) and the outcomes
 * (credentials, an error, and what the cache must hold afterwards). The replay harness writes the
 * files into a temporary home, scripts the loopback sign-in server with `mockApiCalls` (the
 * server checks each request's DPoP proof), runs the `login` source with the clock at
 * 2025-11-19T00:00:00Z (where the vectors' refreshed expiry of `+900 s` lands) and checks every
 * outcome.
 */
import { afterAll, assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as TestClock from "effect/TestClock"
import * as fs from "node:fs"
import * as path from "node:path"
import * as Login from "../src/providers/LoginCredentials.js"
import { resolveWith, tempHome } from "./support/fixtures.js"
import * as SsoServer from "./support/ssoServer.js"
import { missingReason, readVector, vectorsAvailable } from "./support/vectors.js"

interface MockCall {
  readonly request: { readonly tokenInput: Record<string, unknown> }
  readonly response?: { readonly tokenOutput: unknown }
  readonly responseCode?: number
}

type Outcome =
  | {
    readonly result: "credentials"
    readonly accessKeyId: string
    readonly secretAccessKey: string
    readonly sessionToken: string
    readonly accountId: string
    readonly expiresAt: string
  }
  | { readonly result: "error" }
  | ({ readonly result: "cacheContents" } & Record<string, unknown>)

interface TestCase {
  readonly documentation: string
  readonly configContents: string
  readonly cacheContents: Record<string, unknown>
  readonly mockApiCalls?: ReadonlyArray<MockCall>
  readonly outcomes: ReadonlyArray<Outcome>
}

const cases: ReadonlyArray<TestCase> = vectorsAvailable
  ? JSON.parse(readVector("aws-config/test-data/login-provider-test-cases.json"))
  : []

/** The moment the vectors assume ("expiresIn": 900 refreshes to 2025-11-19T00:15:00Z). */
const vectorNow = Date.parse("2025-11-19T00:00:00Z")

const results = { passed: 0 }

const suite = vectorsAvailable ? describe : describe.skip
const suffix = vectorsAvailable ? "" : ` (skipped: ${missingReason})`

suite(`login-provider-test-cases.json${suffix}`, () => {
  if (!vectorsAvailable) it(missingReason, () => {})
  cases.forEach((testCase, index) => {
    it.scoped(`${index}: ${testCase.documentation}`, () =>
      Effect.gen(function*() {
        yield* TestClock.setTime(vectorNow)
        const home = yield* tempHome
        home.writeConfig(testCase.configContents)
        const cacheDir = path.join(home.dir, ".aws", "login", "cache")
        for (const [file, content] of Object.entries(testCase.cacheContents)) {
          home.write(path.join(".aws", "login", "cache", file), JSON.stringify(content, null, 2))
        }
        const server = yield* SsoServer.make()
        const mocks = testCase.mockApiCalls ?? []
        for (const mock of mocks) {
          server.inject(
            "signin",
            mock.response !== undefined
              ? SsoServer.Fault.respond(200, mock.response.tokenOutput)
              : SsoServer.Fault.respond(mock.responseCode ?? 500, {
                error: "INVALID_REQUEST",
                message: "scripted failure"
              })
          )
        }
        const profile = /\[profile ([^\]]+)\]/.exec(testCase.configContents)?.[1] ?? "default"
        const exit = yield* resolveWith(Login.layer, {
          env: home.env({ AWS_PROFILE: profile, AWS_REGION: "us-east-1", AWS_ENDPOINT_URL_SIGNIN: server.url })
        })

        for (const outcome of testCase.outcomes) {
          switch (outcome.result) {
            case "credentials": {
              if (Exit.isFailure(exit)) assert.fail(`expected credentials, got ${Cause.pretty(exit.cause)}`)
              else {
                const credentials = exit.value.credentials
                assert.strictEqual(credentials.source, "login")
                assert.strictEqual(credentials.accessKeyId, outcome.accessKeyId)
                assert.strictEqual(Redacted.value(credentials.secretAccessKey), outcome.secretAccessKey)
                assert.deepStrictEqual(
                  Option.map(credentials.sessionToken, Redacted.value),
                  Option.some(outcome.sessionToken)
                )
                assert.deepStrictEqual(credentials.accountId, Option.some(outcome.accountId))
                assert.deepStrictEqual(
                  Option.map(credentials.expiration, DateTime.toEpochMillis),
                  Option.some(Date.parse(outcome.expiresAt))
                )
              }
              break
            }
            case "error": {
              assert.isTrue(Exit.isFailure(exit), "expected an error")
              if (Exit.isFailure(exit)) {
                const error = Cause.failureOption(exit.cause)
                assert.isTrue(Option.isSome(error) && error.value._tag === "CredentialsError", Cause.pretty(exit.cause))
              }
              break
            }
            case "cacheContents": {
              for (const [file, expected] of Object.entries(outcome)) {
                if (file === "result") continue
                const actual = JSON.parse(fs.readFileSync(path.join(cacheDir, file), "utf8"))
                assert.deepStrictEqual(actual, expected)
                assert.strictEqual(fs.statSync(path.join(cacheDir, file)).mode & 0o777, 0o600)
              }
              break
            }
          }
        }
        // Exactly the scripted calls were made, each with the scripted input and a valid DPoP proof.
        assert.strictEqual(server.calls.signin, mocks.length)
        mocks.forEach((mock, i) => {
          const request = server.requests.filter((r) => r.route === "signin")[i]
          assert.deepStrictEqual(request?.body, mock.request.tokenInput)
          assert.isUndefined(request?.dpopProblem)
        })
        results.passed++
      }))
  })
})

afterAll(() => {
  if (!vectorsAvailable) return
  console.log(`login-provider-test-cases vectors: ${results.passed}/${cases.length} passed`)
})
