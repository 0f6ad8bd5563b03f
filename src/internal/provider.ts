/**
 * The common shape of a credential source: resolve once while the layer is built (so that a
 * source with nothing configured fails the layer and a chain moves on), then serve cached
 * credentials and fetch again before they expire.
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { AwsCredentials, make as makeService } from "../AwsCredentials.js"
import { AwsSession, type Service as AwsSessionService } from "../AwsSession.js"
import type * as Credentials from "../Credentials.js"
import { CredentialsError, type CredentialsUnavailable } from "../CredentialsError.js"
import * as Refresh from "./refresh.js"

/** Milliseconds elapsed since `start` (from `Clock.currentTimeNanos`), to a tenth of a ms. */
export const elapsedMs = (start: bigint): Effect.Effect<number> =>
  Effect.map(Clock.currentTimeNanos, (end) => Math.round(Number(end - start) / 100_000) / 10)

/**
 * A source layer from the effect that resolves it. The refresh engine (`internal/refresh.ts`)
 * lives in the layer's scope: closing it stops the background refresh. `resolve` runs inside a span named after the
 * source; finding credentials logs one debug line, as botocore does ("Found credentials in ...").
 * Re-fetches run `resolve` again with the same environment and the profile files read afresh;
 * a source that has become unavailable since is reported as an error (something the program
 * relied on went away).
 */
export const sourceLayer = <R>(
  source: Credentials.Source,
  resolve: Effect.Effect<Credentials.Credentials, CredentialsUnavailable | CredentialsError, R>
): Layer.Layer<AwsCredentials, CredentialsUnavailable | CredentialsError, R> =>
  Layer.scoped(
    AwsCredentials,
    Effect.gen(function*() {
      const context = yield* Effect.context<R>()
      // Refreshes read the environment the layer was built with, not whatever the fiber that
      // happens to call `get` later runs with.
      const configProvider = yield* Effect.configProviderWith(Effect.succeed)
      // A defect in the source (a thrown exception) becomes a typed error inside the source's
      // span, so neither the span nor the chain sees the defect's message (it may hold a secret);
      // an interruption from outside stays an interruption.
      const spanned = resolve.pipe(
        Effect.catchAllCause((cause) =>
          Option.match(Cause.failureOption(cause), {
            onSome: (error) => Effect.fail(error),
            onNone: () =>
              Cause.isInterruptedOnly(cause)
                ? Effect.failCause(cause as Cause.Cause<never>)
                : Effect.fail(Refresh.unexpectedFailure(source, cause as Cause.Cause<never>))
          })
        ),
        Effect.withSpan(`AwsCredentials.${source}`, { attributes: { source } })
      )
      const start = yield* Clock.currentTimeNanos
      const first = yield* spanned
      const durationMs = yield* elapsedMs(start)
      yield* Effect.logDebug(`Found credentials: ${first.provenance}`).pipe(Effect.annotateLogs({ source }))
      // A fetch after the first reads the profile files afresh (when the session came from files),
      // so that keys rotated in `~/.aws/credentials` are picked up by `invalidate` and a changed
      // role by the next refresh.
      const session = yield* Effect.serviceOption(AwsSession)
      const reload = Option.isSome(session) ? session.value.reload : undefined
      const again: Effect.Effect<Credentials.Credentials, CredentialsUnavailable | CredentialsError, R> =
        reload === undefined
          ? spanned
          : Effect.flatMap(reload, (fresh: AwsSessionService) => Effect.provideService(spanned, AwsSession, fresh))
      const fetch = again.pipe(
        Effect.catchTag("CredentialsUnavailable", (unavailable) =>
          Effect.fail(
            new CredentialsError({
              source,
              reason: "InvalidConfiguration",
              detail: `the source is no longer configured: ${unavailable.detail}`
            })
          )),
        Effect.provide(context),
        Effect.withConfigProvider(configProvider)
      )
      const cache = yield* Refresh.make({ source, initial: first, fetch })
      return makeService({
        get: cache.get,
        invalidate: cache.invalidate,
        unsafeCurrent: cache.unsafeCurrent,
        attempts: [{ source, outcome: "resolved", reason: first.provenance, durationMs }]
      })
    })
  )
