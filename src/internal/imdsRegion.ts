/**
 * The region from the EC2 instance metadata service (`/latest/meta-data/placement/region`), the
 * last link of region resolution. Off when `AWS_EC2_METADATA_DISABLED` is `true`; same endpoint,
 * timeout, attempts and IMDSv1 rules as the `iam-role` source, but bounded to one timeout in all
 * (`imdsClient.fetchRegion`), and not asked at all when the session already found the endpoint
 * unreachable (`imdsReachability.ts`: the `iam-role` link and this one share what they learn).
 * Never fails: anything that keeps the service from telling (unreachable, refused, invalid
 * settings) is `None`, with a debug line.
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { AwsSession } from "../AwsSession.js"
import * as Client from "./imdsClient.js"
import * as ImdsSettings from "./imdsSettings.js"

export interface ImdsRegion {
  readonly name: string
  /** Always `imds`, for `AwsRegion`'s `source`. */
  readonly source: "imds"
}

/** Asks the instance metadata service for the region, with the overrides the `iam-role` source takes. */
export const resolveWith = (
  overrides: ImdsSettings.Overrides = {}
): Effect.Effect<Option.Option<ImdsRegion>, never, AwsSession> =>
  ImdsSettings.resolveSettings(overrides).pipe(
    Effect.flatMap((settings) =>
      Effect.gen(function*() {
        const session = yield* AwsSession
        const state = yield* ImdsSettings.makeState
        const region = yield* Client.fetchRegion(settings, state, session.metadata)
        return Option.map(region, (name): ImdsRegion => ({ name, source: "imds" }))
      })
    ),
    Effect.catchAll((skipped) =>
      Effect.as(
        Effect.logDebug(`no region from the instance metadata service: ${
          skipped._tag === "CredentialsUnavailable" ? skipped.detail : skipped.message
        }`),
        Option.none<ImdsRegion>()
      )
    ),
    Effect.withSpan("AwsRegion.imds")
  )

/** The region from the instance metadata service with the settings of the environment and the profile. */
export const resolve: Effect.Effect<Option.Option<ImdsRegion>, never, AwsSession> = resolveWith()
