import { assert, describe, it } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as TestClock from "effect/TestClock"
import * as Env from "../src/providers/EnvCredentials.js"
import { getFailure, getSuccess, resolveWith, tempHome } from "./support/fixtures.js"

const now = Date.parse("2030-01-01T00:00:00Z")

const keys = { AWS_ACCESS_KEY_ID: "AKIAENVEXAMPLE", AWS_SECRET_ACCESS_KEY: "env-secret" }

describe("Env", () => {
  it.scoped("reads the keys, session token, account id and expiration", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(now)
      const home = yield* tempHome
      const { attempts, credentials } = getSuccess(
        yield* resolveWith(Env.layer, {
          env: home.env({
            ...keys,
            AWS_SESSION_TOKEN: "env-token",
            AWS_ACCOUNT_ID: "123456789012",
            AWS_CREDENTIAL_EXPIRATION: "2030-01-01T01:00:00Z"
          })
        })
      )
      assert.strictEqual(credentials.source, "env")
      assert.strictEqual(credentials.accessKeyId, "AKIAENVEXAMPLE")
      assert.strictEqual(Redacted.value(credentials.secretAccessKey), "env-secret")
      assert.deepStrictEqual(Option.map(credentials.sessionToken, Redacted.value), Option.some("env-token"))
      assert.deepStrictEqual(credentials.accountId, Option.some("123456789012"))
      assert.deepStrictEqual(
        Option.map(credentials.expiration, DateTime.formatIso),
        Option.some("2030-01-01T01:00:00.000Z")
      )
      assert.include(credentials.provenance, "AWS_SESSION_TOKEN")
      assert.deepStrictEqual(attempts.map((a) => [a.source, a.outcome]), [["env", "resolved"]])
    }))

  it.scoped("without optional variables there is no token, account or expiration", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const { credentials } = getSuccess(yield* resolveWith(Env.layer, { env: home.env(keys) }))
      assert.strictEqual(credentials.accessKeyId, "AKIAENVEXAMPLE")
      assert.isTrue(Option.isNone(credentials.sessionToken))
      assert.isTrue(Option.isNone(credentials.accountId))
      assert.isTrue(Option.isNone(credentials.expiration))
    }))

  it.scoped("takes the legacy AWS_SECURITY_TOKEN when AWS_SESSION_TOKEN is unset or empty", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      for (const extra of [{}, { AWS_SESSION_TOKEN: "" }]) {
        const { credentials } = getSuccess(
          yield* resolveWith(Env.layer, { env: home.env({ ...keys, ...extra, AWS_SECURITY_TOKEN: "legacy-token" }) })
        )
        assert.deepStrictEqual(Option.map(credentials.sessionToken, Redacted.value), Option.some("legacy-token"))
        assert.include(credentials.provenance, "AWS_SECURITY_TOKEN")
      }
    }))

  it.scoped("prefers AWS_SESSION_TOKEN over AWS_SECURITY_TOKEN", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const { credentials } = getSuccess(
        yield* resolveWith(Env.layer, {
          env: home.env({ ...keys, AWS_SESSION_TOKEN: "new-token", AWS_SECURITY_TOKEN: "legacy-token" })
        })
      )
      assert.deepStrictEqual(Option.map(credentials.sessionToken, Redacted.value), Option.some("new-token"))
    }))

  it.scoped("is unavailable when AWS_ACCESS_KEY_ID is unset or empty", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      for (const env of [{}, { AWS_ACCESS_KEY_ID: "" }]) {
        const error = getFailure(yield* resolveWith(Env.layer, { env: home.env(env) }))
        assert.strictEqual(error._tag, "CredentialsUnavailable")
        assert.strictEqual(error.source, "env")
        assert.include(error.message, "AWS_ACCESS_KEY_ID is not set")
      }
    }))

  it.scoped("skips a secret without an access key (unavailable, not an error)", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const error = getFailure(
        yield* resolveWith(Env.layer, { env: home.env({ AWS_SECRET_ACCESS_KEY: "lonely", AWS_ACCESS_KEY_ID: "" }) })
      )
      assert.strictEqual(error._tag, "CredentialsUnavailable")
    }))

  it.scoped("an access key without its secret (unset or empty) is PartialCredentials", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      for (const secret of [{}, { AWS_SECRET_ACCESS_KEY: "" }]) {
        const error = getFailure(
          yield* resolveWith(Env.layer, { env: home.env({ AWS_ACCESS_KEY_ID: "AKIAENVEXAMPLE", ...secret }) })
        )
        assert.strictEqual(error._tag, "CredentialsError")
        if (error._tag !== "CredentialsError") return
        assert.strictEqual(error.reason, "PartialCredentials")
        assert.strictEqual(error.source, "env")
        assert.include(error.message, "AWS_SECRET_ACCESS_KEY")
      }
    }))

  it.scoped("an unreadable AWS_CREDENTIAL_EXPIRATION is InvalidConfiguration", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(now)
      const home = yield* tempHome
      const error = getFailure(
        yield* resolveWith(Env.layer, { env: home.env({ ...keys, AWS_CREDENTIAL_EXPIRATION: "next tuesday" }) })
      )
      assert.strictEqual(error._tag, "CredentialsError")
      if (error._tag !== "CredentialsError") return
      assert.strictEqual(error.reason, "InvalidConfiguration")
      assert.include(error.message, "AWS_CREDENTIAL_EXPIRATION")
    }))

  it.scoped("an AWS_CREDENTIAL_EXPIRATION in the past is Expired", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(now)
      const home = yield* tempHome
      const error = getFailure(
        yield* resolveWith(Env.layer, { env: home.env({ ...keys, AWS_CREDENTIAL_EXPIRATION: "2029-12-31T23:59:59Z" }) })
      )
      assert.strictEqual(error._tag, "CredentialsError")
      if (error._tag !== "CredentialsError") return
      assert.strictEqual(error.reason, "Expired")
      assert.include(error.message, "2029-12-31T23:59:59")
    }))

  it.scoped("accepts an expiration with an offset and reads it as UTC", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(now)
      const home = yield* tempHome
      const { credentials } = getSuccess(
        yield* resolveWith(Env.layer, {
          env: home.env({ ...keys, AWS_CREDENTIAL_EXPIRATION: "2030-01-01T03:00:00+02:00" })
        })
      )
      assert.deepStrictEqual(
        Option.map(credentials.expiration, DateTime.formatIso),
        Option.some("2030-01-01T01:00:00.000Z")
      )
    }))
})
