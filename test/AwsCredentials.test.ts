/**
 * The service's SDK interop: `toAwsSdkProvider` hands the SDK plain values at the last moment,
 * converts each set of credentials once, forwards `forceRefresh` as an invalidation and rejects
 * with our typed error; `layerFromAwsSdkProvider` wraps an SDK provider as a source.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as AwsCredentials from "../src/AwsCredentials.js"
import * as Credentials from "../src/Credentials.js"
import { CredentialsError } from "../src/CredentialsError.js"

describe("AwsCredentials", () => {
  it.effect("layerStatic: explicit keys, labelled explicit, never refreshed", () =>
    Effect.gen(function*() {
      const service = yield* AwsCredentials.AwsCredentials
      const credentials = yield* service.get
      assert.strictEqual(credentials.source, "explicit")
      assert.strictEqual(credentials.accessKeyId, "AKIDSTATICLABEL")
      assert.strictEqual(Redacted.value(credentials.secretAccessKey), "static-secret")
      assert.isTrue(Option.isNone(credentials.sessionToken))
      assert.isTrue(Option.isNone(credentials.expiration))
      yield* service.invalidate
      assert.strictEqual(yield* service.get, credentials)
    }).pipe(Effect.provide(AwsCredentials.layerStatic({ accessKeyId: "AKIDSTATICLABEL", secretAccessKey: "static-secret" }))))

  it.effect("toAwsSdkProvider gives the SDK plain values", () =>
    Effect.gen(function*() {
      const provider = yield* AwsCredentials.toAwsSdkProvider
      const identity = yield* Effect.promise(() => provider())
      assert.deepStrictEqual(identity, {
        accessKeyId: "AKIDTEST",
        secretAccessKey: "secret",
        sessionToken: "token",
        expiration: new Date("2099-01-01T00:00:00Z"),
        accountId: "123456789012"
      })
      assert.strictEqual(yield* Effect.promise(() => provider()), identity, "converted once")
    }).pipe(Effect.provide(AwsCredentials.layerStatic({
      accessKeyId: "AKIDTEST",
      secretAccessKey: "secret",
      sessionToken: "token",
      expiration: new Date("2099-01-01T00:00:00Z"),
      accountId: "123456789012"
    }))))

  it.effect("forceRefresh invalidates first; failures reject with the typed error", () =>
    Effect.gen(function*() {
      let invalidations = 0
      let calls = 0
      const layer = Layer.succeed(
        AwsCredentials.AwsCredentials,
        AwsCredentials.make({
          get: Effect.suspend(() =>
            ++calls > 1
              ? Effect.fail(new CredentialsError({ source: "env", reason: "Expired", detail: "gone" }))
              : Effect.succeed(Credentials.make({ accessKeyId: "A", secretAccessKey: "s", source: "env" }))
          ),
          invalidate: Effect.sync(() => {
            invalidations++
          })
        })
      )
      const provider = yield* AwsCredentials.toAwsSdkProvider.pipe(Effect.provide(layer))
      yield* Effect.promise(() => provider())
      const error = yield* Effect.promise(() => provider({ forceRefresh: true }).then(() => undefined, (e: unknown) => e))
      assert.strictEqual(invalidations, 1)
      assert.instanceOf(error, CredentialsError)
      assert.strictEqual((error as CredentialsError).reason, "Expired")
    }))

  it.effect("layerFromAwsSdkProvider wraps an SDK provider; its failure is a ServiceError", () =>
    Effect.gen(function*() {
      const ok = yield* Effect.flatMap(AwsCredentials.AwsCredentials, (s) => s.get).pipe(
        Effect.provide(AwsCredentials.layerFromAwsSdkProvider(async () => ({ accessKeyId: "AKSDK", secretAccessKey: "x" }), {
          source: "container-role",
          description: "an SDK provider"
        }))
      )
      assert.strictEqual(ok.accessKeyId, "AKSDK")
      assert.strictEqual(ok.source, "container-role")
      const exit = yield* Effect.exit(
        Effect.flatMap(AwsCredentials.AwsCredentials, (s) => s.get).pipe(
          Effect.provide(AwsCredentials.layerFromAwsSdkProvider(() => Promise.reject(new Error("nope"))))
        )
      )
      assert.isTrue(Exit.isFailure(exit))
    }))
})
