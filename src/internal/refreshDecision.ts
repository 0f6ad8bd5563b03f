/**
 * The refresh rules as pure functions of what the engine knows and the time: `decide` answers a
 * `get`, `dueAt` tells the background fiber when to fetch, and the transitions say what a fetch
 * starting, succeeding, failing or being interrupted, and an `invalidate`, do to the state. The
 * rules themselves are described once, in `CredentialsCache`'s module comment; the effects
 * (the state's `Ref`, fibers, the clock, logs, metrics, spans) are the shell's, in `refresh.ts`.
 *
 * Times are epoch milliseconds; `random` arguments are draws in [0, 1) that place the jitter.
 */
import * as DateTime from "effect/DateTime"
import * as Option from "effect/Option"
import type * as Credentials from "../Credentials.js"
import type { CredentialsError } from "../CredentialsError.js"
import type { Tuning } from "./refreshPolicy.js"

/** The moments of one set of credentials; all infinite for credentials that never expire. */
export interface Schedule {
  readonly expiresAt: number
  readonly advisoryAt: number
  readonly mandatoryAt: number
  /** When the background fiber refreshes: the advisory moment plus jitter. */
  readonly refreshAt: number
}

/**
 * What the engine knows. `Flight` is the shell's handle on a fetch in flight (a `Deferred`), kept
 * in the state so that joining or starting one is a single atomic update.
 */
export interface State<Flight> extends Schedule {
  /** There always are some: a source layer resolves its credentials while it is built. */
  readonly current: Credentials.Credentials
  /**
   * The current credentials must not be served: a service refused them (`invalidate`). Cleared
   * by the next successful fetch only.
   */
  readonly invalidated: boolean
  readonly inflight: Flight | undefined
  /** Callers must wait for the refresh in flight (it answers an invalidation or the mandatory window). */
  readonly forced: boolean
  /** Consecutive failed attempts; 0 after a success. */
  readonly failures: number
  readonly nextRetryAt: number
  readonly lastError: CredentialsError | undefined
  /** When the last attempt (success or failure) ended; the resolution while building the layer counts. */
  readonly lastAttemptAt: number
}

/** The answer to a `get`. */
export type Decision =
  /** The current credentials; `stale` when a failed refresh answered this call (counted). */
  | { readonly _tag: "Serve"; readonly stale: boolean }
  /** The current credentials, with a refresh started in the background (not waited for). */
  | { readonly _tag: "ServeAndRefresh" }
  /** Join the refresh in flight, or start one that later callers join too, and wait for it. */
  | { readonly _tag: "Wait" }
  /** The last refresh error, at once: the source is failing and may not be asked yet. */
  | { readonly _tag: "Fail"; readonly error: CredentialsError }
  /** Expired sooner than the minimum interval after they were fetched: not asked again until `askAgainAt`. */
  | { readonly _tag: "NotYet"; readonly askAgainAt: number }

// Allocated once: `Serve` answers nearly every call.
const serve: Decision = { _tag: "Serve", stale: false }
const serveStale: Decision = { _tag: "Serve", stale: true }
const serveAndRefresh: Decision = { _tag: "ServeAndRefresh" }
const wait: Decision = { _tag: "Wait" }

export const expiresAtOf = (credentials: Credentials.Credentials): number =>
  Option.isNone(credentials.expiration)
    ? Number.POSITIVE_INFINITY
    : DateTime.toEpochMillis(credentials.expiration.value)

const never: Schedule = {
  expiresAt: Number.POSITIVE_INFINITY,
  advisoryAt: Number.POSITIVE_INFINITY,
  mandatoryAt: Number.POSITIVE_INFINITY,
  refreshAt: Number.POSITIVE_INFINITY
}

/** The moments of credentials fetched `now`. */
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
export const backoff = (failures: number, tuning: Tuning, random: number): number => {
  const base = tuning.retryBase * 2 ** Math.min(failures - 1, 30)
  return Math.ceil(Math.min(tuning.retryMax, base) * (0.5 + random / 2))
}

/** The state after credentials were accepted `now` (while building the layer, or by a refresh). */
export const onSuccess = <Flight>(
  credentials: Credentials.Credentials,
  now: number,
  tuning: Tuning,
  random: number
): State<Flight> => ({
  ...scheduleFor(credentials, now, tuning, random),
  current: credentials,
  invalidated: false,
  inflight: undefined,
  forced: false,
  failures: 0,
  nextRetryAt: 0,
  lastError: undefined,
  lastAttemptAt: now
})

/** The state after an attempt failed `now`: the current credentials stay, the retry backs off. */
export const onFailure = <Flight>(
  state: State<Flight>,
  error: CredentialsError,
  now: number,
  tuning: Tuning,
  random: number
): State<Flight> => {
  const failures = state.failures + 1
  return {
    ...state,
    inflight: undefined,
    forced: false,
    failures,
    nextRetryAt: now + backoff(failures, tuning, random),
    lastError: error,
    lastAttemptAt: now
  }
}

/** The state after the fetch in flight was interrupted from outside (the layer's scope closing). */
export const onInterrupt = <Flight>(state: State<Flight>): State<Flight> => ({
  ...state,
  inflight: undefined,
  forced: false
})

/**
 * Joins the fetch in flight, or makes `candidate` the one: `created` says whether the shell must
 * run it. `forced`: callers arriving meanwhile wait for it instead of taking the current credentials.
 */
export const onStart = <Flight>(
  state: State<Flight>,
  candidate: Flight,
  forced: boolean
): { readonly flight: Flight; readonly created: boolean; readonly state: State<Flight> } =>
  state.inflight !== undefined
    ? { flight: state.inflight, created: false, state: forced && !state.forced ? { ...state, forced } : state }
    : { flight: candidate, created: true, state: { ...state, inflight: candidate, forced } }

/**
 * A refresh in flight answers the invalidation (its callers now wait for it); one that succeeded
 * within the cooldown does too, so a burst of invalidations is one fetch. Otherwise the current
 * credentials are not served again (`decide` says when the next fetch may start).
 */
export const onInvalidate = <Flight>(state: State<Flight>, now: number, tuning: Tuning): State<Flight> => {
  if (state.inflight !== undefined) {
    return state.forced && state.invalidated ? state : { ...state, forced: true, invalidated: true }
  }
  if (state.failures === 0 && now - state.lastAttemptAt < tuning.invalidationCooldown) return state
  return state.invalidated ? state : { ...state, invalidated: true }
}

/** When the background fiber fetches next: the retry time after a failure, else the refresh moment. */
export const dueAt = <Flight>(state: State<Flight>): number =>
  !Number.isFinite(state.expiresAt)
    ? Number.POSITIVE_INFINITY
    : state.failures > 0
    ? state.nextRetryAt
    : state.refreshAt

/** Whether the current credentials may be served `now`. */
const usable = <Flight>(state: State<Flight>, now: number): boolean => !state.invalidated && now < state.expiresAt

/** The answer to a `get` at `now`. */
export const decide = <Flight>(state: State<Flight>, now: number, tuning: Tuning): Decision => {
  if (usable(state, now) && !state.forced && now < state.mandatoryAt) {
    // Before the advisory moment: the hot path. In the advisory window the background fiber is
    // on it; nudge it if it is idle (never before its own moments), never wait.
    const idleAndDue = state.inflight === undefined && now >= state.nextRetryAt && now >= state.refreshAt
    return idleAndDue ? serveAndRefresh : serve
  }
  const askAgainAt = state.lastAttemptAt + tuning.minimumRefreshInterval
  const expired = !state.invalidated && now >= state.expiresAt
  if (expired && state.inflight === undefined && state.failures === 0 && now < askAgainAt) {
    // Expired sooner than the minimum interval after they were fetched: not asked again yet.
    return { _tag: "NotYet", askAgainAt }
  }
  if (state.inflight !== undefined || state.failures === 0) return wait
  const cooledDown = now >= state.lastAttemptAt + tuning.invalidationCooldown
  // Mandatory window while the source is failing: one attempt per cooldown, whoever asks.
  if (usable(state, now)) return cooledDown ? wait : serveStale
  // Expired or invalidated while the source is failing: no fetch before the backoff and the
  // cooldown allow one; until then the last error, at once.
  return cooledDown && now >= state.nextRetryAt ? wait : { _tag: "Fail", error: state.lastError! }
}

/** The answer to a `get` whose wait ended in `error`: still-valid credentials are served (stale). */
export const afterFailedWait = <Flight>(state: State<Flight>, now: number, error: CredentialsError): Decision =>
  usable(state, now) ? serveStale : { _tag: "Fail", error }
