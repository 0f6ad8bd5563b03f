/**
 * The refresh engine every source goes through (see `CredentialsCache` for the behaviour and
 * the policy). One instance per source layer, living in the layer's scope.
 *
 * Timeline of one set of credentials that expires at `E`, fetched at `F`, life `L = E - F`:
 * - advisory at `max(E - advisoryWindow, F + L/2)`: the background fiber refreshes (plus jitter);
 *   callers get the current credentials without waiting;
 * - mandatory at `max(E - mandatoryWindow, F + 3L/4)`: callers wait for the refresh (one fetch
 *   shared by all of them);
 * - `E`: a refresh failure is now the caller's failure.
 * The `L/2` and `3L/4` floors keep credentials that live shorter than the windows from being
 * fetched again on every call.
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as DateTime from "effect/DateTime"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Random from "effect/Random"
import * as Ref from "effect/Ref"
import type * as Scope from "effect/Scope"
import type * as Credentials from "../Credentials.js"
import { type Policy, RefreshPolicy, refreshes, servedStale } from "../CredentialsCache.js"
import type { CredentialsError } from "../CredentialsError.js"

export interface Refreshing {
  readonly get: Effect.Effect<Credentials.Credentials, CredentialsError>
  readonly invalidate: Effect.Effect<void>
}

interface Schedule {
  readonly expiresAt: number
  readonly advisoryAt: number
  readonly mandatoryAt: number
  /** When the background fiber refreshes: the advisory moment plus jitter. */
  readonly refreshAt: number
}

interface State extends Schedule {
  readonly current: Credentials.Credentials
  readonly fetchedAt: number
  readonly invalidated: boolean
  readonly inflight: Deferred.Deferred<Credentials.Credentials, CredentialsError> | undefined
  /** Callers must wait for the refresh in flight (it answers an invalidation or the mandatory window). */
  readonly forced: boolean
  readonly failures: number
  readonly nextRetryAt: number
  readonly lastError: CredentialsError | undefined
}

const never: Schedule = {
  expiresAt: Number.POSITIVE_INFINITY,
  advisoryAt: Number.POSITIVE_INFINITY,
  mandatoryAt: Number.POSITIVE_INFINITY,
  refreshAt: Number.POSITIVE_INFINITY
}

/** Computes the moments of a fresh set of credentials; `random` in [0, 1) places the jitter. */
export const scheduleFor = (
  credentials: Credentials.Credentials,
  now: number,
  policy: Policy,
  random: number
): Schedule => {
  if (Option.isNone(credentials.expiration)) return never
  const expiresAt = DateTime.toEpochMillis(credentials.expiration.value)
  const life = Math.max(0, expiresAt - now)
  const advisoryAt = Math.max(expiresAt - Duration.toMillis(policy.advisoryWindow), now + life / 2)
  const mandatoryAt = Math.max(expiresAt - Duration.toMillis(policy.mandatoryWindow), now + (life * 3) / 4)
  const spread = Math.min(Duration.toMillis(policy.jitter), Math.max(0, mandatoryAt - advisoryAt) / 2)
  // Whole milliseconds: a sleep shorter than the clock's resolution returns at once, and a
  // background fiber chasing a fractional deadline would spin.
  return {
    expiresAt,
    advisoryAt: Math.ceil(advisoryAt),
    mandatoryAt: Math.ceil(mandatoryAt),
    refreshAt: Math.ceil(advisoryAt + random * spread)
  }
}

/** The wait before retry number `failures` (1-based): exponential, capped, jittered to 50–100 %. */
const backoff = (failures: number, policy: Policy, random: number): number => {
  const base = Duration.toMillis(policy.retryBase) * 2 ** Math.min(failures - 1, 30)
  return Math.ceil(Math.min(Duration.toMillis(policy.retryMax), base) * (0.5 + random / 2))
}

export const make = (options: {
  readonly source: Credentials.Source
  readonly initial: Credentials.Credentials
  readonly fetch: Effect.Effect<Credentials.Credentials, CredentialsError>
}): Effect.Effect<Refreshing, never, Scope.Scope> =>
  Effect.gen(function*() {
    const { fetch, initial, source } = options
    const policy = yield* RefreshPolicy
    const scope = yield* Effect.scope
    const now0 = yield* Clock.currentTimeMillis
    const state = yield* Ref.make<State>({
      ...scheduleFor(initial, now0, policy, yield* Random.next),
      current: initial,
      fetchedAt: now0,
      invalidated: false,
      inflight: undefined,
      forced: false,
      failures: 0,
      nextRetryAt: 0,
      lastError: undefined
    })
    // Wakes the background fiber when the schedule changes.
    const wake = yield* Queue.sliding<void>(1)
    const refreshSuccess = Metric.tagged(Metric.tagged(refreshes, "source", source), "outcome", "success")
    const refreshFailure = Metric.tagged(Metric.tagged(refreshes, "source", source), "outcome", "failure")
    const staleCounter = Metric.tagged(servedStale, "source", source)

    const runFetch = (deferred: Deferred.Deferred<Credentials.Credentials, CredentialsError>) =>
      Effect.gen(function*() {
        const exit = yield* fetch.pipe(
          Effect.tapBoth({
            onSuccess: () => Effect.annotateCurrentSpan("outcome", "success"),
            onFailure: (error) =>
              Effect.annotateCurrentSpan({ outcome: "failure", reason: error.reason })
          }),
          Effect.withSpan("AwsCredentials.refresh", { attributes: { source } }),
          Effect.exit
        )
        const now = yield* Clock.currentTimeMillis
        const random = yield* Random.next
        if (Exit.isSuccess(exit)) {
          const fresh = exit.value
          yield* Ref.update(state, (s) => ({
            ...s,
            ...scheduleFor(fresh, now, policy, random),
            current: fresh,
            fetchedAt: now,
            inflight: undefined,
            forced: false,
            failures: 0,
            nextRetryAt: 0,
            lastError: undefined
          }))
          yield* Metric.increment(refreshSuccess)
          yield* Queue.offer(wake, undefined)
          yield* Deferred.succeed(deferred, fresh)
          return
        }
        const error = Cause.failureOption(exit.cause)
        if (Option.isNone(error)) {
          // A defect or an interruption: hand it to the waiters as it is.
          yield* Ref.update(state, (s) => ({ ...s, inflight: undefined, forced: false }))
          yield* Deferred.failCause(deferred, exit.cause)
          return
        }
        const s = yield* Ref.updateAndGet(state, (s) => {
          const failures = s.failures + 1
          return {
            ...s,
            inflight: undefined,
            forced: false,
            failures,
            nextRetryAt: now + backoff(failures, policy, random),
            lastError: error.value
          }
        })
        yield* Metric.increment(refreshFailure)
        yield* Effect.logWarning(
          now < s.expiresAt
            ? "credential refresh failed; keeping the current credentials until they expire"
            : "credential refresh failed and the current credentials have expired"
        ).pipe(
          Effect.annotateLogs({
            source,
            reason: error.value.reason,
            error: error.value.message,
            failures: s.failures,
            nextAttemptInMs: Math.round(s.nextRetryAt - now),
            ...(Number.isFinite(s.expiresAt) ? { expiresAt: new Date(s.expiresAt).toISOString() } : {})
          })
        )
        yield* Queue.offer(wake, undefined)
        yield* Deferred.fail(deferred, error.value)
      }).pipe(
        // Closing the layer's scope interrupts a fetch in flight; whoever waits is told so.
        Effect.onInterrupt(() =>
          Effect.zipRight(
            Ref.update(state, (s) => ({ ...s, inflight: undefined, forced: false })),
            Deferred.interrupt(deferred)
          )
        )
      )

    /**
     * The refresh in flight, or a new one; fetches run in the layer's scope, not the caller's.
     * `forced`: callers arriving meanwhile wait for it instead of taking the current credentials.
     */
    const start = (forced: boolean): Effect.Effect<Deferred.Deferred<Credentials.Credentials, CredentialsError>> =>
      Effect.flatMap(
        Deferred.make<Credentials.Credentials, CredentialsError>(),
        (candidate) =>
          Ref.modify(state, (s): readonly [readonly [typeof candidate, boolean], State] =>
            s.inflight !== undefined
              ? [[s.inflight, false], forced && !s.forced ? { ...s, forced } : s]
              : [[candidate, true], { ...s, inflight: candidate, forced, invalidated: false }]).pipe(
              Effect.tap(([deferred, created]) => created ? Effect.forkIn(runFetch(deferred), scope) : Effect.void),
              Effect.map(([deferred]) => deferred)
            )
      )

    const slowGet = (now: number): Effect.Effect<Credentials.Credentials, CredentialsError> =>
      Effect.gen(function*() {
        const s = yield* Ref.get(state)
        if (!s.invalidated && !s.forced && now < s.mandatoryAt) {
          // Advisory window: the background fiber is on it; nudge it if it is idle, never wait.
          if (s.inflight === undefined && now >= s.nextRetryAt && now >= s.refreshAt) yield* start(false)
          return s.current
        }
        if (s.inflight === undefined && !s.invalidated && now < s.nextRetryAt) {
          // Backing off after a failed refresh.
          if (now < s.expiresAt) {
            yield* Metric.increment(staleCounter)
            return s.current
          }
          return yield* Effect.fail(s.lastError!)
        }
        const result = yield* Effect.either(Deferred.await(yield* start(true)))
        if (Either.isRight(result)) return result.right
        const after = yield* Ref.get(state)
        if ((yield* Clock.currentTimeMillis) < after.expiresAt) {
          yield* Metric.increment(staleCounter)
          return after.current
        }
        return yield* Effect.fail(result.left)
      })

    const get: Effect.Effect<Credentials.Credentials, CredentialsError> = Effect.flatMap(
      Ref.get(state),
      (s) =>
        Effect.flatMap(Clock.currentTimeMillis, (now) =>
          !s.invalidated && !s.forced && now < s.advisoryAt ? Effect.succeed(s.current) : slowGet(now))
    )

    // A refresh already in flight answers the invalidation (its callers now wait for it); one
    // that has just completed does too (cooldown), so a burst of invalidations is one fetch.
    const invalidate: Effect.Effect<void> = Effect.flatMap(Clock.currentTimeMillis, (now) =>
      Ref.update(state, (s) =>
        s.inflight !== undefined
          ? (s.forced ? s : { ...s, forced: true })
          : now - s.fetchedAt < Duration.toMillis(policy.invalidationCooldown)
          ? s
          : { ...s, invalidated: true }))

    // The background fiber: sleeps until the next refresh moment (or a retry after a failure),
    // refreshes, and starts over; a change of schedule wakes it early. Credentials without an
    // expiry have no refresh moment, so it only waits to be woken.
    const background = Effect.gen(function*() {
      while (true) {
        const s = yield* Ref.get(state)
        const now = yield* Clock.currentTimeMillis
        const due = !Number.isFinite(s.expiresAt)
          ? Number.POSITIVE_INFINITY
          : s.failures > 0
          ? s.nextRetryAt
          : s.refreshAt
        if (!Number.isFinite(due)) {
          yield* Queue.take(wake)
          continue
        }
        if (due > now) {
          yield* Effect.raceFirst(Effect.sleep(Duration.millis(due - now)), Queue.take(wake))
          continue
        }
        yield* Effect.ignore(Deferred.await(yield* start(false)))
      }
    })
    yield* Effect.forkIn(background, scope)

    return { get, invalidate }
  })
