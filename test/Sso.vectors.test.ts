/**
 * The SSO token vectors of the AWS SDK for Rust (`default-token-provider-chain/<case>/`): each case
 * is a directory with `env.json`, `fs/` (files under a fake root), `http-traffic.json` and
 * `test-case.json`. The replay harness writes `fs/` into a temporary directory, maps `env.json`
 * through `ConfigProvider.fromMap` (absolute paths moved under that directory), points SSO-OIDC at
 * a loopback server that must see exactly the recorded traffic, and checks the token.
 */
import { afterAll, assert, describe, it } from "@effect/vitest"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as Cause from "effect/Cause"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as fs from "node:fs"
import * as path from "node:path"
import * as AwsSession from "../src/AwsSession.js"
import * as SsoProfile from "../src/internal/ssoProfile.js"
import { tempHome, withEnv } from "./support/fixtures.js"
import * as SsoServer from "./support/ssoServer.js"
import { missingReason, vectorPath, vectorsAvailable } from "./support/vectors.js"

interface TestCase {
  readonly name: string
  readonly docs: string
  readonly result:
    | { readonly Ok: { readonly token: string; readonly expiration: string } }
    | { readonly Err: string }
}

const root = vectorPath("aws-config/test-data/default-token-provider-chain")
const caseNames: ReadonlyArray<string> = vectorsAvailable
  ? fs.readdirSync(root).filter((name) => fs.statSync(path.join(root, name)).isDirectory()).sort()
  : []

const readJson = <A>(...parts: Array<string>): A => JSON.parse(fs.readFileSync(path.join(root, ...parts), "utf8")) as A

/** Copies `from` (a case's `fs/`) under `to`, keeping relative paths. */
const materialize = (from: string, to: string): void => {
  if (!fs.existsSync(from)) return
  for (const entry of fs.readdirSync(from, { withFileTypes: true })) {
    const source = path.join(from, entry.name)
    const target = path.join(to, entry.name)
    if (entry.isDirectory()) {
      fs.mkdirSync(target, { recursive: true })
      materialize(source, target)
    } else {
      fs.copyFileSync(source, target)
    }
  }
}

const results = { passed: 0 }

const suite = vectorsAvailable ? describe : describe.skip
const suffix = vectorsAvailable ? "" : ` (skipped: ${missingReason})`

suite(`default-token-provider-chain${suffix}`, () => {
  if (!vectorsAvailable) it(missingReason, () => {})
  for (const name of caseNames) {
    const testCase = readJson<TestCase>(name, "test-case.json")
    it.scoped(`${name}: ${testCase.docs}`, () =>
      Effect.gen(function*() {
        const dir = (yield* tempHome).dir
        materialize(path.join(root, name, "fs"), dir)
        const traffic = readJson<{ readonly events: ReadonlyArray<unknown> }>(name, "http-traffic.json")
        const server = yield* SsoServer.make()
        const env: Record<string, string> = {}
        for (const [key, value] of Object.entries(readJson<Record<string, string>>(name, "env.json"))) {
          env[key] = value.startsWith("/") ? path.join(dir, value) : value
        }
        env.AWS_ENDPOINT_URL_SSO_OIDC = server.url
        env.AWS_ENDPOINT_URL_SSO = server.url

        const exit = yield* Effect.gen(function*() {
          const session = yield* AwsSession.make()
          return yield* SsoProfile.fetchToken({ session, profileName: session.profileName })
        }).pipe(withEnv(env), Effect.provide(NodeFileSystem.layer), Effect.exit)

        if ("Ok" in testCase.result) {
          if (Exit.isFailure(exit)) assert.fail(`expected a token, got ${Cause.pretty(exit.cause)}`)
          else {
            assert.strictEqual(Redacted.value(exit.value.token), testCase.result.Ok.token)
            assert.strictEqual(
              DateTime.formatIso(exit.value.expiration).replace(".000Z", "Z"),
              testCase.result.Ok.expiration
            )
          }
        } else {
          assert.isTrue(Exit.isFailure(exit), `expected an error containing ${testCase.result.Err}`)
          if (Exit.isFailure(exit)) {
            const error = Cause.failureOption(exit.cause)
            assert.isTrue(Option.isSome(error))
          }
        }
        assert.strictEqual(
          server.calls.oidc + server.calls.portal + server.calls.signin,
          traffic.events.length,
          "the HTTP calls made match the recorded traffic"
        )
        results.passed++
      }))
  }
})

afterAll(() => {
  if (!vectorsAvailable) return
  console.log(`default-token-provider-chain vectors: ${results.passed}/${caseNames.length} passed`)
})
