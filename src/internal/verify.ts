/**
 * `explain --verify`: asks AWS whether resolved credentials work, with STS `GetCallerIdentity`
 * (the one call that needs no permission) signed with them, sent where the session's STS calls go
 * (`sts.ts`: `AWS_ENDPOINT_URL_STS`, `[services]`, regional or legacy endpoints, FIPS, dual-stack)
 * through the one call policy (a timeout per attempt, bounded retries, a deadline).
 *
 * Three outcomes, and only the server decides between the first two:
 * - `Verified`: STS answered with the caller's account, ARN and user id.
 * - `Rejected`: STS said no (`InvalidClientTokenId`, `SignatureDoesNotMatch`, `ExpiredToken`,
 *   ...): an answer that refuses the credentials themselves (`signingCredentials.ts`'s codes),
 *   which another attempt would not change. The message is our sentence
 *   for the code (`rejectionSentence`), naming the masked access key, the source and the
 *   provenance; nothing the server wrote beyond its error code is kept (as for every STS error),
 *   and the code itself passed `sts.ts`'s pattern for codes.
 * - `Unverified`: no verdict: STS could not be reached (`Unreachable`), did not answer in time
 *   (`Timeout`), was throttled or failing after the retries (`ServiceUnavailable`), answered
 *   something that is not a GetCallerIdentity response (`InvalidResponse`), answered with an
 *   error that says nothing about the credentials (`ServiceError`: a proxy's 403, an endpoint that
 *   is not STS, a policy on the endpoint; the server's code in the message), or the call could not
 *   be made from the configuration (`InvalidConfiguration`: a bad region name, FIPS without a
 *   region, a key a header cannot carry). `explain` keeps the chain's exit status for these: the
 *   credentials may well be good, and a laptop offline is not a credentials problem.
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type { AwsSession } from "../AwsSession.js"
import type * as Credentials from "../Credentials.js"
import type * as CallFailure from "./callFailure.js"
import { scrubMessage, scrubValue } from "./scrub.js"
import * as SigningCredentials from "./signingCredentials.js"
import * as Sts from "./sts.js"

/** Who the credentials belong to. Values from the server, scrubbed and bounded. */
export interface Identity {
  readonly account: string
  readonly arn: string
  readonly userId: string
}

/** Why there is no verdict. */
export type UnverifiedCode =
  | "Unreachable"
  | "Timeout"
  | "ServiceUnavailable"
  | "InvalidResponse"
  | "InvalidConfiguration"
  | "ServiceError"

/** What `verify` found out. */
export type Outcome =
  | { readonly _tag: "Verified"; readonly identity: Identity }
  /** `code` is STS's error code. */
  | { readonly _tag: "Rejected"; readonly code: string; readonly message: string }
  | { readonly _tag: "Unverified"; readonly code: UnverifiedCode; readonly message: string }

/** Tunables of the call (`sts.ts`'s: a timeout per attempt, default 10 s; attempts, default 3). */
export type Options = Sts.CallOptions

/**
 * `STS GetCallerIdentity: SignatureDoesNotMatch: the secret key does not match access key
 * AKIA...WXYZ, from profile dev in /home/me/.aws/credentials:3 (shared-credentials-file)`: the
 * sentence is the one every refusal of credentials gets (`signingCredentials.ts`), and a code
 * that table does not know still names the credentials.
 */
export const rejectionSentence = (code: string, credentials: Credentials.Credentials): string => {
  const signing = SigningCredentials.fromCredentials(credentials)
  const sentence = Option.getOrElse(
    SigningCredentials.rejection(code, signing, { operation: "GetCallerIdentity" }),
    () => `STS refused ${SigningCredentials.describe(signing)}`
  )
  return scrubMessage(`STS GetCallerIdentity: ${code}: ${sentence}`)
}

const unverifiedCode = (failure: CallFailure.CallFailure): UnverifiedCode => {
  switch (failure._tag) {
    case "Network":
      return "Unreachable"
    case "Timeout":
      return "Timeout"
    case "Service":
      return Sts.isRetryable(failure) ? "ServiceUnavailable" : "ServiceError"
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
          // Only an answer about the credentials themselves is a verdict on them: a proxy's 403, an
          // endpoint that is not STS (`InvalidAction`) or a policy on the endpoint is not, and
          // neither is what the call policy retried (throttling, 5xx) and still failed.
          failure._tag === "Service" && !Sts.isRetryable(failure) && SigningCredentials.isRejection(failure.name)
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
