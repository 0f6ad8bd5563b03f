/**
 * The refresh engine's shell, one instance per source layer, living in the layer's scope: the
 * state in one cell (a `MutableRef`, changed only by the engine's effects), fetches forked in
 * that scope, the background fiber, the clock, logs, metrics and spans. What to do at each moment
 * is decided by `refreshDecision.ts`; the rules are described once, in `CredentialsCache`'s
 * module comment. `get` and `unsafeCurrent` (the same decision, read without a fiber, for
 * callers outside Effect) ask `decide`; only `get` carries out what it says.
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
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
import * as MutableRef from "effect/MutableRef"
import type * as Scope from "effect/Scope"
import type * as Credentials from "../Credentials.js"
import { CredentialsError } from "../CredentialsError.js"
import * as Decision from "./refreshDecision.js"
import * as Policy from "./refreshPolicy.js"

export interface Refreshing {
  readonly get: Effect.Effect<Credentials.Credentials, CredentialsError>
  readonly invalidate: Effect.Effect<void>
  /** What `get` at `nowMillis` would serve at once with nothing else to do; else `undefined`. */
  readonly unsafeCurrent: (nowMillis: number) => Credentials.Credentials | undefined
}

type Flight = Deferred.Deferred<Credentials.Credentials, CredentialsError>
type State = Decision.State<Flight>

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
  const expiresAt = Decision.expiresAtOf(credentials)
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

/**
 * The `get` that found credentials expired sooner than the minimum interval after their fetch;
 * `askAgainAt` is when `decide` allows the next fetch.
 */
const tooSoon = (
  source: Credentials.Source,
  state: State,
  now: number,
  askAgainAt: number,
  tuning: Policy.Tuning
): CredentialsError =>
  new CredentialsError({
    source,
    reason: "Expired",
    detail: `the credentials expired at ${new Date(state.expiresAt).toISOString()}, ${
      formatMillis(state.expiresAt - state.lastAttemptAt)
    } after they were fetched; the source is asked again no sooner than ${
      formatMillis(tuning.minimumRefreshInterval)
    } after its last fetch (in ${formatMillis(askAgainAt - now)})`
  })

/** What the parts of one engine share. */
interface Shell {
  readonly source: Credentials.Source
  readonly tuning: Policy.Tuning
  readonly scope: Scope.Scope
  /**
   * A `MutableRef` rather than a `Ref` so that `unsafeCurrent` can read it without running an
   * effect. It is only changed inside the engine's effects, each change one synchronous step
   * (as `Ref.modify` would be), so every transition stays atomic.
   */
  readonly state: MutableRef.MutableRef<State>
  /** Wakes the background fiber when the schedule changes. */
  readonly wake: Queue.Queue<void>
  /** Whether the background fiber runs (see `scheduleChanged`). */
  readonly background: MutableRef.MutableRef<boolean>
  readonly attempt: Effect.Effect<Credentials.Credentials, CredentialsError>
  readonly succeeded: Metric.Metric.Counter<number>
  readonly failed: Metric.Metric.Counter<number>
  readonly servedStale: Metric.Metric.Counter<number>
  /** The answer to a plain `Serve`, made once per set of credentials (see `served`). */
  readonly served: MutableRef.MutableRef<readonly [Credentials.Credentials, Effect.Effect<Credentials.Credentials>] | undefined>
}

/** One attempt: the source's errors, its defects and refused credentials are all failures. */
const attemptOf = (
  source: Credentials.Source,
  fetch: Effect.Effect<Credentials.Credentials, CredentialsError>
): Effect.Effect<Credentials.Credentials, CredentialsError> =>
  fetch.pipe(
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

/** Credentials that expire before the next fetch may run: served, and said so. */
const warnIfShortLived = (shell: Shell, credentials: Credentials.Credentials, now: number): Effect.Effect<void> => {
  const expiresAt = Decision.expiresAtOf(credentials)
  return Number.isFinite(expiresAt) && expiresAt - now < shell.tuning.minimumRefreshInterval
    ? Effect.logWarning(
      "the source returned credentials that live shorter than the minimum refresh interval; " +
        "once they expire, get fails until the next fetch"
    ).pipe(Effect.annotateLogs({
      source: shell.source,
      expiresAt: new Date(expiresAt).toISOString(),
      livesForMs: Math.round(expiresAt - now),
      nextFetchInMs: shell.tuning.minimumRefreshInterval
    }))
    : Effect.void
}

const warnRefreshFailed = (shell: Shell, state: State, error: CredentialsError, now: number): Effect.Effect<void> =>
  Effect.logWarning(
    state.invalidated
      ? "credential refresh failed; the current credentials were invalidated, so get fails until a refresh succeeds"
      : now < state.expiresAt
      ? "credential refresh failed; keeping the current credentials until they expire"
      : "credential refresh failed and the current credentials have expired"
  ).pipe(
    Effect.annotateLogs({
      source: shell.source,
      reason: error.reason,
      error: error.message,
      failures: state.failures,
      nextAttemptInMs: Math.round(state.nextRetryAt - now),
      ...(Number.isFinite(state.expiresAt) ? { expiresAt: new Date(state.expiresAt).toISOString() } : {})
    })
  )

/**
 * Tells the background fiber that the schedule changed, starting it if it does not run yet.
 * Credentials without an expiry (keys from the environment or a file) have no refresh moment:
 * their engine starts no fiber until a fetch has run (after an `invalidate`), which keeps
 * building a chain with static keys as cheap as it can be. The fiber reads the state when it
 * starts, so a start needs no wake.
 */
const scheduleChanged = (shell: Shell): Effect.Effect<void> =>
  Effect.suspend(() => {
    if (MutableRef.get(shell.background)) return Queue.offer(shell.wake, undefined)
    MutableRef.set(shell.background, true)
    return Effect.asVoid(Effect.forkIn(background(shell), shell.scope))
  })

/** One transition of the state, as a single synchronous step; answers the new state. */
const update = (shell: Shell, f: (state: State) => State): Effect.Effect<State> =>
  Effect.sync(() => {
    const next = f(MutableRef.get(shell.state))
    MutableRef.set(shell.state, next)
    return next
  })

/** Runs the fetch `deferred` stands for, applies its outcome to the state and settles `deferred`. */
const runFetch = (shell: Shell, deferred: Flight): Effect.Effect<void> =>
  Effect.gen(function*() {
    const exit = yield* Effect.exit(shell.attempt)
    const now = yield* Clock.currentTimeMillis
    const random = yield* Random.next
    if (Exit.isSuccess(exit)) {
      const fresh = exit.value
      yield* update(shell, () => Decision.onSuccess<Flight>(fresh, now, shell.tuning, random))
      yield* Metric.increment(shell.succeeded)
      yield* warnIfShortLived(shell, fresh, now)
      yield* scheduleChanged(shell)
      yield* Deferred.succeed(deferred, fresh)
      return
    }
    // `attempt` turns every cause into a `CredentialsError`; an interruption from outside
    // (the layer's scope closing) never gets here (see `onInterrupt` below).
    const error = Option.getOrElse(
      Cause.failureOption(exit.cause),
      () => unexpectedFailure(shell.source, exit.cause as Cause.Cause<never>)
    )
    const state = yield* update(shell, (s) => Decision.onFailure(s, error, now, shell.tuning, random))
    yield* Metric.increment(shell.failed)
    yield* warnRefreshFailed(shell, state, error, now)
    yield* scheduleChanged(shell)
    yield* Deferred.fail(deferred, error)
  }).pipe(
    // Closing the layer's scope interrupts a fetch in flight; whoever waits is told so.
    Effect.onInterrupt(() =>
      Effect.zipRight(update(shell, Decision.onInterrupt), Deferred.interrupt(deferred))
    )
  )

/** The refresh in flight, or a new one; fetches run in the layer's scope, not the caller's. */
const start = (shell: Shell, forced: boolean): Effect.Effect<Flight> =>
  Effect.flatMap(Deferred.make<Credentials.Credentials, CredentialsError>(), (candidate) =>
    Effect.sync(() => {
      const { created, flight, state } = Decision.onStart(MutableRef.get(shell.state), candidate, forced)
      MutableRef.set(shell.state, state)
      return [flight, created] as const
    }).pipe(
      Effect.tap(([flight, created]) => created ? Effect.forkIn(runFetch(shell, flight), shell.scope) : Effect.void),
      Effect.map(([flight]) => flight)
    ))

/** Waits for the refresh in flight, or a new one, which callers arriving meanwhile wait for too. */
const awaitRefresh = (shell: Shell): Effect.Effect<Credentials.Credentials, CredentialsError> =>
  Effect.flatMap(
    Effect.flatMap(start(shell, true), (flight) => Effect.either(Deferred.await(flight))),
    Either.match({
      onLeft: (error) =>
        Effect.clockWith((clock) => {
          const state = MutableRef.get(shell.state)
          const now = clock.unsafeCurrentTimeMillis()
          return act(shell, state, now, Decision.afterFailedWait(state, now, error))
        }),
      onRight: Effect.succeed
    })
  )

/**
 * Nearly every `get` serves the same credentials as the one before: answering with one `Exit`
 * made per set, rather than a new effect per call, measurably shortens the cached `get`.
 */
const served = (shell: Shell, credentials: Credentials.Credentials): Effect.Effect<Credentials.Credentials> => {
  const last = MutableRef.get(shell.served)
  if (last !== undefined && last[0] === credentials) return last[1]
  const answer = Exit.succeed(credentials)
  MutableRef.set(shell.served, [credentials, answer])
  return answer
}

/** Carries out a decision taken on `state` at `now`. */
const act = (
  shell: Shell,
  state: State,
  now: number,
  decision: Decision.Decision
): Effect.Effect<Credentials.Credentials, CredentialsError> => {
  switch (decision._tag) {
    case "Serve":
      return decision.stale ? Effect.as(Metric.increment(shell.servedStale), state.current) : served(shell, state.current)
    case "ServeAndRefresh":
      return Effect.as(start(shell, false), state.current)
    case "Wait":
      return awaitRefresh(shell)
    case "Fail":
      return Effect.fail(decision.error)
    case "NotYet":
      return Effect.fail(tooSoon(shell.source, state, now, decision.askAgainAt, shell.tuning))
  }
}

// The hot path: one step of the fiber (the clock from its services, the state read once, the
// decision) and, when the credentials are served, no allocation (see `served`).
const get = (shell: Shell): Effect.Effect<Credentials.Credentials, CredentialsError> =>
  Effect.clockWith((clock) => {
    const state = MutableRef.get(shell.state)
    const now = clock.unsafeCurrentTimeMillis()
    return act(shell, state, now, Decision.decide(state, now, shell.tuning))
  })

/**
 * The same decision as `get`, without a fiber, for callers outside Effect (the SDK provider).
 * Only a plain `Serve` is answered: anything else has an effect to run (a nudge of the refresh,
 * a wait, the stale count, a failure), which only `get` carries out.
 */
const unsafeCurrent = (shell: Shell) => (nowMillis: number): Credentials.Credentials | undefined => {
  const state = MutableRef.get(shell.state)
  const decision = Decision.decide(state, nowMillis, shell.tuning)
  return decision._tag === "Serve" && !decision.stale ? state.current : undefined
}

const invalidate = (shell: Shell): Effect.Effect<void> =>
  Effect.clockWith((clock) =>
    update(shell, (state) => Decision.onInvalidate(state, clock.unsafeCurrentTimeMillis(), shell.tuning))
  )

// The background fiber: sleeps until the next refresh moment (or a retry after a failure),
// refreshes, and starts over; a change of schedule wakes it early. Credentials without an
// expiry have no refresh moment, so it only waits to be woken. Every outcome of a fetch is
// settled by `runFetch`; the fiber only waits for it, whatever it was.
const background = (shell: Shell): Effect.Effect<never> =>
  Effect.gen(function*() {
    while (true) {
      const due = Decision.dueAt(MutableRef.get(shell.state))
      const now = yield* Clock.currentTimeMillis
      if (!Number.isFinite(due)) {
        yield* Queue.take(shell.wake)
        continue
      }
      if (due > now) {
        yield* Effect.raceFirst(Effect.sleep(Duration.millis(due - now)), Queue.take(shell.wake))
        continue
      }
      yield* Effect.exit(Deferred.await(yield* start(shell, false)))
    }
  })

/**
 * The first state, from the credentials resolved while building the layer. They go through the
 * same check as a refresh: if they are refused, they are still served while valid, and the engine
 * retries at once (with backoff) instead of at their refresh moment.
 */
const initialState = (
  source: Credentials.Source,
  initial: Credentials.Credentials,
  tuning: Policy.Tuning
): Effect.Effect<{ readonly state: State; readonly refused: CredentialsError | undefined }> =>
  Effect.gen(function*() {
    const now = yield* Clock.currentTimeMillis
    const refused = refuseExpired(source, initial, now)
    const accepted = Decision.onSuccess<Flight>(initial, now, tuning, yield* Random.next)
    return {
      state: refused === undefined ? accepted : Decision.onFailure(accepted, refused, now, tuning, yield* Random.next),
      refused
    }
  })

export const make = (options: {
  readonly source: Credentials.Source
  readonly initial: Credentials.Credentials
  readonly fetch: Effect.Effect<Credentials.Credentials, CredentialsError>
}): Effect.Effect<Refreshing, never, Scope.Scope> =>
  Effect.gen(function*() {
    const { fetch, initial, source } = options
    const { adjusted, tuning } = Policy.tuningFor(yield* Policy.Current)
    if (adjusted.length > 0) {
      yield* Effect.logWarning(`refresh policy adjusted: ${adjusted.join("; ")}`).pipe(Effect.annotateLogs({ source }))
    }
    const scope = yield* Effect.scope
    const first = yield* initialState(source, initial, tuning)
    const refreshes = Metric.tagged(Policy.refreshes, "source", source)
    const shell: Shell = {
      source,
      tuning,
      scope,
      state: MutableRef.make(first.state),
      wake: yield* Queue.sliding<void>(1),
      background: MutableRef.make(false),
      attempt: attemptOf(source, fetch),
      succeeded: Metric.tagged(refreshes, "outcome", "success"),
      failed: Metric.tagged(refreshes, "outcome", "failure"),
      servedStale: Metric.tagged(Policy.servedStale, "source", source),
      served: MutableRef.make(undefined)
    }
    if (first.refused === undefined) {
      yield* warnIfShortLived(shell, initial, first.state.lastAttemptAt)
    } else {
      yield* Effect.logWarning("the credentials found while building the layer have already expired; refreshing").pipe(
        Effect.annotateLogs({ source, reason: first.refused.reason, error: first.refused.message })
      )
    }
    if (Number.isFinite(Decision.dueAt(first.state))) yield* scheduleChanged(shell)
    return { get: get(shell), invalidate: invalidate(shell), unsafeCurrent: unsafeCurrent(shell) }
  })
