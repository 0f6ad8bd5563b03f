/**
 * The `env` source's fetch (and assume-role's `credential_source = Environment`): the
 * credentials in `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN` (or
 * `AWS_SECURITY_TOKEN`), `AWS_CREDENTIAL_EXPIRATION` and `AWS_ACCOUNT_ID`, read through `Config`.
 */
import * as Clock from "effect/Clock"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Credentials from "../Credentials.js"
import { CredentialsError, CredentialsUnavailable } from "../CredentialsError.js"
import * as Env from "./env.js"
import { parseTimestamp } from "./time.js"
import { scrub } from "./scrub.js"

const source = "env" satisfies Credentials.Source

/**
 * Reads the variables once. An access key without its secret is `PartialCredentials`; a secret
 * without an access key is skipped (botocore does the same). Credentials whose
 * `AWS_CREDENTIAL_EXPIRATION` has passed are `Expired`.
 */
export const fetchCredentials: Effect.Effect<Credentials.Credentials, CredentialsUnavailable | CredentialsError> = Effect.gen(
  function*() {
    const accessKeyId = yield* Env.optional("AWS_ACCESS_KEY_ID")
    if (Option.isNone(accessKeyId)) {
      return yield* new CredentialsUnavailable({ source, reason: "NotConfigured",
 detail: "AWS_ACCESS_KEY_ID is not set" })
    }
    const secret = yield* Env.optional("AWS_SECRET_ACCESS_KEY")
    if (Option.isNone(secret)) {
      return yield* new CredentialsError({
        source,
        reason: "PartialCredentials",
        detail: "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is missing or empty"
      })
    }
    const token = yield* Env.firstOf(["AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"])
    const accountId = yield* Env.optional("AWS_ACCOUNT_ID")
    const expirationText = yield* Env.optional("AWS_CREDENTIAL_EXPIRATION")
    let expiration: DateTime.Utc | undefined
    if (Option.isSome(expirationText)) {
      const parsed = parseTimestamp(expirationText.value)
      if (Option.isNone(parsed)) {
        return yield* new CredentialsError({
          source,
          reason: "InvalidConfiguration",
          detail: `AWS_CREDENTIAL_EXPIRATION is not an ISO 8601 timestamp: "${scrub(expirationText.value, { max: 64 })}"`
        })
      }
      const now = yield* Clock.currentTimeMillis
      if (DateTime.toEpochMillis(parsed.value) <= now) {
        return yield* new CredentialsError({
          source,
          reason: "Expired",
          detail: `the credentials in the environment expired at ${DateTime.formatIso(parsed.value)}`
        })
      }
      expiration = parsed.value
    }
    const parts = ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]
    if (Option.isSome(token)) parts.push(token.value.name)
    return Credentials.make({
      accessKeyId: accessKeyId.value,
      secretAccessKey: secret.value,
      sessionToken: Option.map(token, (t) => t.value).pipe(Option.getOrUndefined),
      expiration,
      accountId: Option.getOrUndefined(accountId),
      source,
      provenance: `environment variables ${parts.join(", ")}`
    })
  }
)
