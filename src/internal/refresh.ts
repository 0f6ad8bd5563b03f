/**
 * The refresh engine every source goes through (see `CredentialsCache` for the behaviour, and
 * `refreshPolicy.ts` for the policy's check). One instance per source layer, living in the layer's scope.
 *
 * Timeline of one set of credentials that expires at `E`, fetched at `F`, life `L = E - F`,
 * with `m` the minimum refresh interval (15 s by default):
 * - advisory at `max(E - advisoryWindow, F + max(L/2, m))`: the background fiber refreshes (plus
 *   jitter); callers get the current credentials without waiting;
 * - mandatory at `max(E - mandatoryWindow, F + 3L/4, advisory)`: callers wait for the refresh
 *   (one fetch shared by all of them), see "Who may start a fetch" below;
 * - `E`: a refresh failure is now the caller's failure.
 * The `L/2`, `3L/4` and `m` floors keep credentials that live shorter than the windows from
 * being fetched again on every call: the background fiber refreshes no sooner than `F + m`, and
 * a `get` after such credentials expired, less than `m` after they were fetched, fails at once
 * (reason `Expired`, saying when the source will be asked again) rather than fetching. They are
 * still served while valid (with a warning that they live shorter than `m`; lower
 * `minimumRefreshInterval` for a source that really issues such credentials). Credentials that
 * arrive already expired are not accepted: that fetch counts as a failed refresh (reason
 * `Expired`), so an always-expired source is asked at the backoff's pace, never in a loop.
 *
 * Who may start a fetch:
 * - the background fiber, at the refresh moment, or after a failure at the backoff's retry time
 *   (jittered exponential: 1 s doubled per failure, at most 60 s);
 * - a `get` in the advisory window nudges it (same moments, never earlier) and never waits;
 * - a `get` in the mandatory window with valid credentials joins the fetch in flight, or starts
 *   one, unless the last attempt failed less than `invalidationCooldown` ago: then it is served
 *   the current credentials at once (that failure answered it; a new fetch this soon would only
 *   hammer the source);
 * - a `get` whose credentials are unusable (expired, or invalidated) joins the fetch in flight
 *   or starts one if the source is not failing; if it is, only once both the backoff's retry
 *   time and `invalidationCooldown` after the last attempt have passed; before that it fails at
 *   once with the last refresh error.
 * Failures of any kind (the source's error, a defect, credentials refused as expired) go through
 * the same path: counter, warning (source, reason, next attempt), backoff.
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
import * as Redacted from "effect/Redacted"
import * as Ref from "effect/Ref"
import type * as Scope from "effect/Scope"
import type * as Credentials from "../Credentials.js"
import { CredentialsError } from "../CredentialsError.js"
import { Current, refreshes, servedStale, type Tuning, tuningFor } from "./refreshPolicy.js"

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
  /**
   * The current credentials must not be served: a service refused them (`invalidate`). Cleared
   * by the next successful fetch only.
   */
  readonly invalidated: boolean
  readonly inflight: Deferred.Deferred<Credentials.Credentials, CredentialsError> | undefined
  /** Callers must wait for the refresh in flight (it answers an invalidation or the mandatory window). */
  readonly forced: boolean
  /** Consecutive failed attempts; 0 after a success. */
  readonly failures: number
  readonly nextRetryAt: number
  readonly lastError: CredentialsError | undefined
  /** When the last attempt (success or failure) ended; the resolution while building the layer counts. */
  readonly lastAttemptAt: number
}

const never: Schedule = {
  expiresAt: Number.POSITIVE_INFINITY,
  advisoryAt: Number.POSITIVE_INFINITY,
  mandatoryAt: Number.POSITIVE_INFINITY,
  refreshAt: Number.POSITIVE_INFINITY
}

const expiresAtOf = (credentials: Credentials.Credentials): number =>
  Option.isNone(credentials.expiration)
    ? Number.POSITIVE_INFINITY
    : DateTime.toEpochMillis(credentials.expiration.value)

/** Computes the moments of a fresh set of credentials; `random` in [0, 1) places the jitter. */
export const scheduleFor = (
  credentials: Credentials.Credentials,
  now: number,
  tuning: Tuning,
  random: number
): Schedule => {
  const expiresAt = expiresAtOf(credentials)
  if (!Number.isFinite(expiresAt)) return never
  const life = Math.max(0, expiresAt - now)
  // Never later than the expiry: credentials are not served past it from the fast path.
  const advisoryAt = Math.min(
    expiresAt,
    Math.max(expiresAt - tuning.advisoryWindow, now + Math.max(life / 2, tuning.minimumRefreshInterval))
  )
  const mandatoryAt = Math.min(
    expiresAt,
    Math.max(expiresAt - tuning.mandatoryWindow, now + (life * 3) / 4, advisoryAt)
  )
  const spread = Math.min(tuning.jitter, Math.max(0, mandatoryAt - advisoryAt) / 2)
  // Whole milliseconds: a sleep shorter than the clock's resolution returns at once, and a
  // background fiber chasing a fractional deadline would spin.
  return {
    expiresAt,
    advisoryAt: Math.ceil(advisoryAt),
    mandatoryAt: Math.ceil(mandatoryAt),
    // Credentials living shorter than `m` expire before this: the next fetch still waits for it.
    refreshAt: Math.ceil(Math.max(advisoryAt + random * spread, now + tuning.minimumRefreshInterval))
  }
}

/** The wait before retry number `failures` (1-based): exponential, capped, jittered to 50–100 %. */
const backoff = (failures: number, tuning: Tuning, random: number): number => {
  const base = tuning.retryBase * 2 ** Math.min(failures - 1, 30)
  return Math.ceil(Math.min(tuning.retryMax, base) * (0.5 + random / 2))
}

const formatMillis = (ms: number): string => Duration.format(Duration.millis(Math.max(0, Math.round(ms))))

/**
 * Credentials that have already expired when they arrive are refused (a clock skewed against
 * the issuer's, or a broken source): accepting them would mean fetching again at once.
 */
const refuseExpired = (
  source: Credentials.Source,
  credentials: Credentials.Credentials,
  now: number
): CredentialsError | undefined => {
  const expiresAt = expiresAtOf(credentials)
  if (!Number.isFinite(expiresAt) || expiresAt > now) return undefined
  const at = new Date(expiresAt).toISOString()
  return new CredentialsError({
    source,
    reason: "Expired",
    detail: `the source returned credentials that had already expired (expiration ${at}, ${
      formatMillis(now - expiresAt)
    } before they were fetched); check the local clock against the issuer's, and the source`
  })
}

/** A name safe to print for a defect: its class, never its message (which may hold a secret). */
const defectKind = (defect: unknown): string => {
  if (defect instanceof Error && /^[A-Za-z_$][\w$]{0,63}$/.test(defect.name)) return defect.name
  return defect === null ? "null" : typeof defect
}

/**
 * A fetch that ended in a defect (a thrown exception, `Effect.die`) or interrupted itself: a
 * failed refresh like any other. The defect is kept, `Redacted`, as the cause, so it cannot be
 * printed by accident but a debugger can still read it (`Redacted.value(error.cause)`).
 */
export const unexpectedFailure = (source: Credentials.Source, cause: Cause.Cause<never>): CredentialsError => {
  if (Cause.isInterruptedOnly(cause)) {
    return new CredentialsError({
      source,
      reason: "InvalidResponse",
      detail: "the refresh was interrupted by the source itself"
    })
  }
  const defect = Cause.squash(cause)
  return new CredentialsError({
    source,
    reason: "InvalidResponse",
    detail: `the source failed with an unexpected ${
      defectKind(defect)
    } (a defect in the source); its message is withheld as it may contain secrets (the error's cause holds it, redacted)`,
    cause: Redacted.make(defect)
  })
}

export const make = (options: {
  readonly source: Credentials.Source
  readonly initial: Credentials.Credentials
  readonly fetch: Effect.Effect<Credentials.Credentials, CredentialsError>
}): Effect.Effect<Refreshing, never, Scope.Scope> =>
  Effect.gen(function*() {
    const { fetch, initial, source } = options
    const { adjusted, tuning } = tuningFor(yield* Current)
    if (adjusted.length > 0) {
      yield* Effect.logWarning(`refresh policy adjusted: ${adjusted.join("; ")}`).pipe(Effect.annotateLogs({ source }))
    }
    const scope = yield* Effect.scope
    const now0 = yield* Clock.currentTimeMillis
    // The credentials resolved while building the layer go through the same check as a refresh:
    // if they are refused, they are still served while valid, and the engine retries at once
    // (with backoff) instead of at their refresh moment.
    const refusedAtStart = refuseExpired(source, initial, now0)
    const state = yield* Ref.make<State>({
      ...scheduleFor(initial, now0, tuning, yield* Random.next),
      current: initial,
      invalidated: false,
      inflight: undefined,
      forced: false,
      failures: refusedAtStart === undefined ? 0 : 1,
      nextRetryAt: refusedAtStart === undefined ? 0 : now0 + backoff(1, tuning, yield* Random.next),
      lastError: refusedAtStart,
      lastAttemptAt: now0
    })
    /** Credentials that expire before the next fetch may run: served, and said so. */
    const warnIfShortLived = (credentials: Credentials.Credentials, now: number): Effect.Effect<void> => {
      const expiresAt = expiresAtOf(credentials)
      return Number.isFinite(expiresAt) && expiresAt - now < tuning.minimumRefreshInterval
        ? Effect.logWarning(
          "the source returned credentials that live shorter than the minimum refresh interval; " +
            "once they expire, get fails until the next fetch"
        ).pipe(Effect.annotateLogs({
          source,
          expiresAt: new Date(expiresAt).toISOString(),
          livesForMs: Math.round(expiresAt - now),
          nextFetchInMs: tuning.minimumRefreshInterval
        }))
        : Effect.void
    }
    if (refusedAtStart === undefined) yield* warnIfShortLived(initial, now0)
    if (refusedAtStart !== undefined) {
      yield* Effect.logWarning("the credentials found while building the layer have already expired; refreshing").pipe(
        Effect.annotateLogs({ source, reason: refusedAtStart.reason, error: refusedAtStart.message })
      )
    }
    // Wakes the background fiber when the schedule changes.
    const wake = yield* Queue.sliding<void>(1)
    const refreshSuccess = Metric.tagged(Metric.tagged(refreshes, "source", source), "outcome", "success")
    const refreshFailure = Metric.tagged(Metric.tagged(refreshes, "source", source), "outcome", "failure")
    const staleCounter = Metric.tagged(servedStale, "source", source)

    /** One attempt: the source's errors, its defects and refused credentials are all failures. */
    const attempt: Effect.Effect<Credentials.Credentials, CredentialsError> = fetch.pipe(
      Effect.catchAllCause((cause) =>
        Effect.fail(Option.getOrElse(Cause.failureOption(cause), () => unexpectedFailure(source, cause as Cause.Cause<never>)))
      ),
      Effect.flatMap((fresh) =>
        Effect.flatMap(Clock.currentTimeMillis, (now) => {
          const refused = refuseExpired(source, fresh, now)
          return refused === undefined ? Effect.succeed(fresh) : Effect.fail(refused)
        })
      ),
      Effect.tapBoth({
        onSuccess: () => Effect.annotateCurrentSpan("outcome", "success"),
        onFailure: (error) => Effect.annotateCurrentSpan({ outcome: "failure", reason: error.reason })
      }),
      Effect.withSpan("AwsCredentials.refresh", { attributes: { source } })
    )

    const runFetch = (deferred: Deferred.Deferred<Credentials.Credentials, CredentialsError>) =>
      Effect.gen(function*() {
        const exit = yield* Effect.exit(attempt)
        const now = yield* Clock.currentTimeMillis
        const random = yield* Random.next
        if (Exit.isSuccess(exit)) {
          const fresh = exit.value
          yield* Ref.update(state, (s) => ({
            ...s,
            ...scheduleFor(fresh, now, tuning, random),
            current: fresh,
            invalidated: false,
            inflight: undefined,
            forced: false,
            failures: 0,
            nextRetryAt: 0,
            lastError: undefined,
            lastAttemptAt: now
          }))
          yield* Metric.increment(refreshSuccess)
          yield* warnIfShortLived(fresh, now)
          yield* Queue.offer(wake, undefined)
          yield* Deferred.succeed(deferred, fresh)
          return
        }
        // `attempt` turns every cause into a `CredentialsError`; an interruption from outside
        // (the layer's scope closing) never gets here (see `onInterrupt` below).
        const error = Option.getOrElse(
          Cause.failureOption(exit.cause),
          () => unexpectedFailure(source, exit.cause as Cause.Cause<never>)
        )
        const s = yield* Ref.updateAndGet(state, (s) => {
          const failures = s.failures + 1
          return {
            ...s,
            inflight: undefined,
            forced: false,
            failures,
            nextRetryAt: now + backoff(failures, tuning, random),
            lastError: error,
            lastAttemptAt: now
          }
        })
        yield* Metric.increment(refreshFailure)
        yield* Effect.logWarning(
          s.invalidated
            ? "credential refresh failed; the current credentials were invalidated, so get fails until a refresh succeeds"
            : now < s.expiresAt
            ? "credential refresh failed; keeping the current credentials until they expire"
            : "credential refresh failed and the current credentials have expired"
        ).pipe(
          Effect.annotateLogs({
            source,
            reason: error.reason,
            error: error.message,
            failures: s.failures,
            nextAttemptInMs: Math.round(s.nextRetryAt - now),
            ...(Number.isFinite(s.expiresAt) ? { expiresAt: new Date(s.expiresAt).toISOString() } : {})
          })
        )
        yield* Queue.offer(wake, undefined)
        yield* Deferred.fail(deferred, error)
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
              : [[candidate, true], { ...s, inflight: candidate, forced }]).pipe(
              Effect.tap(([deferred, created]) => created ? Effect.forkIn(runFetch(deferred), scope) : Effect.void),
              Effect.map(([deferred]) => deferred)
            )
      )

    /** Credentials still valid and not invalidated after a failed refresh are served (and counted). */
    const servedAfterFailure = (error: CredentialsError): Effect.Effect<Credentials.Credentials, CredentialsError> =>
      Effect.gen(function*() {
        const s = yield* Ref.get(state)
        if (!s.invalidated && (yield* Clock.currentTimeMillis) < s.expiresAt) {
          yield* Metric.increment(staleCounter)
          return s.current
        }
        return yield* Effect.fail(error)
      })

    /** Waits for the refresh in flight, or a new one, which callers arriving meanwhile wait for too. */
    const awaitRefresh: Effect.Effect<Credentials.Credentials, CredentialsError> = Effect.flatMap(
      Effect.flatMap(start(true), (deferred) => Effect.either(Deferred.await(deferred))),
      Either.match({ onLeft: servedAfterFailure, onRight: Effect.succeed })
    )

    const slowGet = (now: number): Effect.Effect<Credentials.Credentials, CredentialsError> =>
      Effect.gen(function*() {
        const s = yield* Ref.get(state)
        const usable = !s.invalidated && now < s.expiresAt
        if (usable && !s.forced && now < s.mandatoryAt) {
          // Advisory window: the background fiber is on it; nudge it if it is idle, never wait.
          if (s.inflight === undefined && now >= s.nextRetryAt && now >= s.refreshAt) yield* start(false)
          return s.current
        }
        if (
          s.inflight === undefined && s.failures === 0 && !s.invalidated && now >= s.expiresAt &&
          now < s.lastAttemptAt + tuning.minimumRefreshInterval
        ) {
          // Expired sooner than the minimum interval after they were fetched: not asked again yet.
          const next = s.lastAttemptAt + tuning.minimumRefreshInterval
          return yield* Effect.fail(
            new CredentialsError({
              source,
              reason: "Expired",
              detail: `the credentials expired at ${new Date(s.expiresAt).toISOString()}, ${
                formatMillis(s.expiresAt - s.lastAttemptAt)
              } after they were fetched; the source is asked again no sooner than ${
                formatMillis(tuning.minimumRefreshInterval)
              } after its last fetch (in ${formatMillis(next - now)})`
            })
          )
        }
        if (s.inflight !== undefined || s.failures === 0) return yield* awaitRefresh
        if (usable) {
          // Mandatory window while the source is failing: one attempt per cooldown, whoever asks.
          if (now >= s.lastAttemptAt + tuning.invalidationCooldown) return yield* awaitRefresh
          yield* Metric.increment(staleCounter)
          return s.current
        }
        // Expired or invalidated while the source is failing: no fetch before the backoff and the
        // cooldown allow one; until then the last error, at once.
        if (now >= Math.max(s.nextRetryAt, s.lastAttemptAt + tuning.invalidationCooldown)) return yield* awaitRefresh
        return yield* Effect.fail(s.lastError!)
      })

    const get: Effect.Effect<Credentials.Credentials, CredentialsError> = Effect.flatMap(
      Ref.get(state),
      (s) =>
        Effect.flatMap(Clock.currentTimeMillis, (now) =>
          !s.invalidated && !s.forced && now < s.advisoryAt ? Effect.succeed(s.current) : slowGet(now))
    )

    // A refresh already in flight answers the invalidation (its callers now wait for it); one
    // that succeeded within the cooldown does too, so a burst of invalidations is one fetch.
    // Otherwise the current credentials are not served again (see `slowGet` for when the next
    // fetch may start).
    const invalidate: Effect.Effect<void> = Effect.flatMap(Clock.currentTimeMillis, (now) =>
      Ref.update(state, (s) =>
        s.inflight !== undefined
          ? (s.forced && s.invalidated ? s : { ...s, forced: true, invalidated: true })
          : s.failures === 0 && now - s.lastAttemptAt < tuning.invalidationCooldown
          ? s
          : s.invalidated
          ? s
          : { ...s, invalidated: true }))

    // The background fiber: sleeps until the next refresh moment (or a retry after a failure),
    // refreshes, and starts over; a change of schedule wakes it early. Credentials without an
    // expiry have no refresh moment, so it only waits to be woken. Every outcome of a fetch is
    // settled by `runFetch`; the fiber only waits for it, whatever it was.
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
        yield* Effect.exit(Deferred.await(yield* start(false)))
      }
    })
    yield* Effect.forkIn(background, scope)

    return { get, invalidate }
  })
