/**
 * Keeps a source's credentials fresh. Credentials without an expiration are served as they
 * are; expiring ones are fetched again, once for all waiting fibers, when they enter the
 * refresh window. A failed refresh keeps serving credentials that are still valid.
 */
import * as Clock from "effect/Clock"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import type * as Credentials from "../Credentials.js"
import type { CredentialsError } from "../CredentialsError.js"

/** botocore's mandatory refresh window: ten minutes before expiry, callers wait for new ones. */
export const defaultRefreshWindow: Duration.Duration = Duration.minutes(10)

export interface Refreshing {
  readonly get: Effect.Effect<Credentials.Credentials, CredentialsError>
  readonly invalidate: Effect.Effect<void>
}

interface State {
  readonly current: Credentials.Credentials
  readonly invalidated: boolean
}

/**
 * The moment to refresh: `window` before expiry, or, for credentials that live shorter than
 * the window, half-way through what is left, so short-lived credentials are not refetched in
 * a loop.
 */
const refreshAt = (
  credentials: Credentials.Credentials,
  fetchedAt: number,
  window: Duration.Duration
): number =>
  Option.match(credentials.expiration, {
    onNone: () => Number.POSITIVE_INFINITY,
    onSome: (expiration) => {
      const expiresAt = DateTime.toEpochMillis(expiration)
      const windowStart = expiresAt - Duration.toMillis(window)
      return windowStart > fetchedAt ? windowStart : fetchedAt + Math.max(0, (expiresAt - fetchedAt) / 2)
    }
  })

export const make = (options: {
  readonly initial: Credentials.Credentials
  readonly fetch: Effect.Effect<Credentials.Credentials, CredentialsError>
  readonly window?: Duration.Duration | undefined
}): Effect.Effect<Refreshing> =>
  Effect.gen(function*() {
    const window = options.window ?? defaultRefreshWindow
    const now0 = yield* Clock.currentTimeMillis
    const state = yield* Ref.make<State & { readonly refreshAt: number }>({
      current: options.initial,
      invalidated: false,
      refreshAt: refreshAt(options.initial, now0, window)
    })
    const lock = yield* Effect.makeSemaphore(1)

    const needsRefresh = (s: State & { readonly refreshAt: number }, now: number) =>
      s.invalidated || now >= s.refreshAt

    const refresh = lock.withPermits(1)(
      Effect.gen(function*() {
        // Another fiber may have refreshed while this one waited for the lock.
        const s = yield* Ref.get(state)
        const now = yield* Clock.currentTimeMillis
        if (!needsRefresh(s, now)) return s.current
        return yield* options.fetch.pipe(
          Effect.tap((fresh) =>
            Ref.set(state, { current: fresh, invalidated: false, refreshAt: refreshAt(fresh, now, window) })
          ),
          Effect.catchAll((error) => {
            const stillValid = Option.match(s.current.expiration, {
              onNone: () => !s.invalidated,
              onSome: (expiration) => now < DateTime.toEpochMillis(expiration)
            })
            return stillValid
              ? Effect.as(
                Effect.logWarning("credential refresh failed; serving the current credentials until they expire").pipe(
                  Effect.annotateLogs({ source: s.current.source, reason: error.reason, error: error.message })
                ),
                s.current
              )
              : Effect.fail(error)
          })
        )
      })
    )

    const get = Effect.flatMap(Ref.get(state), (s) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => needsRefresh(s, now) ? refresh : Effect.succeed(s.current)))

    return {
      get,
      invalidate: Ref.update(state, (s) => ({ ...s, invalidated: true }))
    }
  })
