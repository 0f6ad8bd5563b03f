/**
 * `explain --verify`: asks AWS whether resolved credentials work, with STS `GetCallerIdentity`
 * (the one call that needs no permission) signed with them, sent where the session's STS calls go
 * (`sts.ts`: `AWS_ENDPOINT_URL_STS`, `[services]`, regional or legacy endpoints, FIPS, dual-stack)
 * through the one call policy (a timeout per attempt, bounded retries, a deadline).
 *
 * Three outcomes, and only the server decides between the first two:
 * - `Verified`: STS answered with the caller's account, ARN and user id.
 * - `Rejected`: STS said no (`InvalidClientTokenId`, `SignatureDoesNotMatch`, `ExpiredToken`,
 *   ...): any error answer that another attempt would not change. The message is our sentence
 *   for the code (`rejectionSentence`), naming the masked access key, the source and the
 *   provenance; nothing the server wrote beyond its error code is kept (as for every STS error),
 *   and the code itself passed `sts.ts`'s pattern for codes.
 * - `Unverified`: no verdict: STS could not be reached (`Unreachable`), did not answer in time
 *   (`Timeout`), was throttled or failing after the retries (`ServiceUnavailable`), answered
 *   something that is not a GetCallerIdentity response (`InvalidResponse`), or the call could not
 *   be made from the configuration (`InvalidConfiguration`: a bad region name, FIPS without a
 *   region, a key a header cannot carry). `explain` keeps the chain's exit status for these: the
 *   credentials may well be good, and a laptop offline is not a credentials problem.
 */
import * as Effect from "effect/Effect"
import type { AwsSession } from "../AwsSession.js"
import * as Credentials from "../Credentials.js"
import type * as CallFailure from "./callFailure.js"
import { scrubMessage, scrubValue } from "./scrub.js"
import * as Sts from "./sts.js"

/** Who the credentials belong to. Values from the server, scrubbed and bounded. */
export interface Identity {
  readonly account: string
  readonly arn: string
  readonly userId: string
}

/** Why there is no verdict. */
export type UnverifiedCode = "Unreachable" | "Timeout" | "ServiceUnavailable" | "InvalidResponse" | "InvalidConfiguration"

/** What `verify` found out. */
export type Outcome =
  | { readonly _tag: "Verified"; readonly identity: Identity }
  /** `code` is STS's error code. */
  | { readonly _tag: "Rejected"; readonly code: string; readonly message: string }
  | { readonly _tag: "Unverified"; readonly code: UnverifiedCode; readonly message: string }

/** Tunables of the call (`sts.ts`'s: a timeout per attempt, default 10 s; attempts, default 3). */
export type Options = Sts.CallOptions

/** The sentence after the code, for the codes STS answers about the caller's own credentials. */
const rejections: Readonly<Record<string, (key: string) => string>> = {
  InvalidClientTokenId: (key) => `AWS does not know access key ${key} (deleted, or from another partition)`,
  InvalidAccessKeyId: (key) => `AWS does not know access key ${key}`,
  SignatureDoesNotMatch: (key) => `the secret key does not match access key ${key}`,
  IncompleteSignature: (key) => `the request signed with access key ${key} is incomplete (are the credentials complete?)`,
  ExpiredToken: (key) => `the session token of access key ${key} has expired`,
  InvalidToken: (key) => `the session token of access key ${key} is not valid`,
  AccessDenied: (key) => `access key ${key} was denied`,
  RegionDisabledException: (key) => `STS is not activated in this region for the account of access key ${key}`
}

/**
 * `STS GetCallerIdentity: SignatureDoesNotMatch: the secret key does not match access key
 * ****************WXYZ, from profile dev in /home/me/.aws/credentials:3 (shared-credentials-file)`.
 * One small function so that a shared table of rejection sentences can replace it.
 */
export const rejectionSentence = (code: string, credentials: Credentials.Credentials): string => {
  const key = Credentials.mask(credentials.accessKeyId)
  const sentence = rejections[code]?.(key) ?? `STS refused access key ${key}`
  return scrubMessage(
    `STS GetCallerIdentity: ${code}: ${sentence}, from ${credentials.provenance} (${credentials.source})`
  )
}

const unverifiedCode = (failure: CallFailure.CallFailure): UnverifiedCode => {
  switch (failure._tag) {
    case "Network":
      return "Unreachable"
    case "Timeout":
      return "Timeout"
    case "Service":
      return "ServiceUnavailable"
    case "Malformed":
      return "InvalidResponse"
    case "Local":
      return "InvalidConfiguration"
  }
}

/**
 * Asks STS whether `credentials` work, through the session's STS settings. Never fails: every
 * way it can end is an `Outcome`.
 */
export const verify = (
  credentials: Credentials.Credentials,
  options: Options = {}
): Effect.Effect<Outcome, never, AwsSession> =>
  Effect.gen(function*() {
    const settings = yield* Effect.either(Sts.settings(credentials.source, options))
    if (settings._tag === "Left") {
      return {
        _tag: "Unverified",
        code: "InvalidConfiguration",
        message: `STS GetCallerIdentity was not sent: ${settings.left.detail}`
      } as const
    }
    return yield* Sts.getCallerIdentity({ settings: settings.right, credentials }).pipe(
      Effect.map((identity): Outcome => ({
        _tag: "Verified",
        identity: {
          account: scrubValue(identity.account, 64),
          arn: scrubValue(identity.arn, 2048),
          userId: scrubValue(identity.userId, 256)
        }
      })),
      Effect.catchAll(({ attempts, failure }) =>
        Effect.succeed<Outcome>(
          // An error answer another attempt would not change is the server's verdict; what the
          // call policy retried (throttling, 5xx) and still failed is not.
          failure._tag === "Service" && !Sts.isRetryable(failure)
            ? { _tag: "Rejected", code: failure.name, message: rejectionSentence(failure.name, credentials) }
            : {
              _tag: "Unverified",
              code: unverifiedCode(failure),
              message: scrubMessage(
                Sts.describeFailure(failure, { settings: settings.right, operation: "GetCallerIdentity", attempts }).detail
              )
            }
        )
      )
    )
  }).pipe(Effect.withSpan("Verify.verify", { attributes: { source: credentials.source } }))
