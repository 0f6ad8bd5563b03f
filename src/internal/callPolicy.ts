/**
 * The one policy every remote call goes through (instance metadata, container endpoints, STS,
 * SSO, SSO-OIDC, sign-in, S3): each attempt under a timeout, retries only of what is worth
 * retrying, waits that grow exponentially up to a cap and are jittered, an attempt budget and a
 * total deadline. Whatever the settings say, a call ends within its deadline.
 *
 * Waits are "equal jitter": half the exponential step plus a random half (through the `Random`
 * service, so tests are repeatable), never more than `maxBackoff`. A timed-out attempt is retried
 * at once: its wait has been spent already (botocore does not wait either).
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Random from "effect/Random"
import * as Schedule from "effect/Schedule"

export interface Policy {
  /** The longest one attempt may take. */
  readonly timeout: Duration.Duration
  /** Attempts in all (at least 1, at most `maxAttempts`). */
  readonly attempts: number
  /** The first wait between attempts, doubled each time. */
  readonly backoff: Duration.Duration
  /** No wait is longer than this. */
  readonly maxBackoff: Duration.Duration
  /** The whole call, attempts and waits together, ends within this. */
  readonly deadline: Duration.Duration
}

/** The most attempts any setting may ask for. */
export const maxAttempts = 10

/** The longest per-attempt timeout any setting may ask for. */
export const maxTimeout: Duration.Duration = Duration.minutes(5)

/**
 * A policy from settings a user may have given (`AWS_METADATA_SERVICE_NUM_ATTEMPTS`, options):
 * attempts clamped to 1..`maxAttempts`, the timeout to at most `maxTimeout`; the deadline is the
 * attempts' timeouts plus their capped waits unless given.
 */
export const make = (options: {
  readonly timeout: Duration.DurationInput
  readonly attempts: number
  readonly backoff?: Duration.DurationInput | undefined
  readonly maxBackoff?: Duration.DurationInput | undefined
  readonly deadline?: Duration.DurationInput | undefined
}): Policy => {
  const attempts = Number.isFinite(options.attempts)
    ? Math.min(maxAttempts, Math.max(1, Math.floor(options.attempts)))
    : 1
  // `Duration.infinity`: the attempt enforces its own timeout (see `run`).
  const given = Duration.decode(options.timeout)
  const timeout = Duration.isFinite(given) ? Duration.min(given, maxTimeout) : given
  const backoff = Duration.decode(options.backoff ?? Duration.millis(100))
  const maxBackoff = Duration.decode(options.maxBackoff ?? Duration.seconds(1))
  const deadline = options.deadline === undefined
    ? Duration.sum(Duration.times(timeout, attempts), Duration.times(maxBackoff, attempts - 1))
    : Duration.decode(options.deadline)
  return { timeout, attempts, backoff, maxBackoff, deadline }
}

/**
 * Equal jitter on a step of the exponential: half of it plus a random half, the step capped at
 * `maxBackoff` first so that no wait passes it.
 */
const equalJitter = (step: Duration.Duration, maxBackoff: Duration.Duration): Effect.Effect<Duration.Duration> =>
  Effect.map(Random.next, (random) => {
    const capped = Duration.toMillis(Duration.min(step, maxBackoff))
    return Duration.millis(capped / 2 + (capped / 2) * random)
  })

/**
 * When to try again, as a `Schedule` over the failures: within the attempt budget, only what
 * `isRetryable` accepts, after a capped exponential wait with equal jitter (none after a timeout),
 * and never when that wait would end at or past `deadlineMs`. The budget and `isRetryable` are
 * checked before a random number is drawn, so a call that gives up draws none.
 */
const retrySchedule = <E>(
  policy: Policy,
  classify: {
    readonly isRetryable: (failure: E, made: number) => boolean
    readonly isTimeout?: ((failure: E) => boolean) | undefined
  },
  deadlineMs: number
): Schedule.Schedule<Duration.Duration, E> =>
  Schedule.recurs(policy.attempts - 1).pipe(
    Schedule.intersect(Schedule.identity<E>()),
    // `recurs` counts the retries so far: after the first attempt it says 0.
    Schedule.check((failure, [retries]) => classify.isRetryable(failure, retries + 1)),
    Schedule.intersect(Schedule.exponential(policy.backoff)),
    // The step comes from the schedule's output, not from the interval, which carries the clock's
    // rounding.
    Schedule.modifyDelayEffect(([[, failure], step]) =>
      classify.isTimeout?.(failure) === true ? Effect.succeed(Duration.zero) : equalJitter(step, policy.maxBackoff)
    ),
    Schedule.delays,
    // No time left for another attempt after the wait: give up now with what we have.
    Schedule.checkEffect((_, wait) =>
      Effect.map(Clock.currentTimeMillis, (now) => now + Duration.toMillis(wait) < deadlineMs)
    )
  )

/**
 * Runs `attempt` under `policy`: `Effect.retry` with `retrySchedule`, each attempt under its own
 * `Effect.timeoutFail`, the shorter of the policy's timeout and what is left of the deadline.
 * `isRetryable` says which failures another attempt may cure; `timedOut` makes the failure of an
 * attempt that passed its timeout (or the deadline); `isTimeout` tells such failures apart, so that
 * they are retried without a wait. The last failure is returned as it is, so callers can say how
 * many attempts were made (`onAttempt` counts them).
 */
export const run = <A, E, R>(
  attempt: Effect.Effect<A, E, R>,
  policy: Policy,
  classify: {
    /** Whether another attempt may cure `failure`, after `made` attempts (within the budget). */
    readonly isRetryable: (failure: E, made: number) => boolean
    readonly timedOut: (limit: Duration.Duration) => E
    readonly isTimeout?: ((failure: E) => boolean) | undefined
    readonly onAttempt?: ((attempt: number) => void) | undefined
  }
): Effect.Effect<A, E, R> =>
  Effect.flatMap(Clock.currentTimeMillis, (start) => {
    const deadlineMs = start + Duration.toMillis(policy.deadline)
    // Per call, not per module: the attempt number `onAttempt` is told.
    let made = 0
    const once = Effect.flatMap(Clock.currentTimeMillis, (now) => {
      made++
      classify.onAttempt?.(made)
      const limit = Duration.min(policy.timeout, Duration.millis(Math.max(0, deadlineMs - now)))
      // An infinite limit: the attempt keeps its own timeout (the S3 client's request handler).
      return Duration.isFinite(limit)
        ? Effect.timeoutFail(attempt, { duration: limit, onTimeout: () => classify.timedOut(limit) })
        : attempt
    })
    return Effect.retry(once, retrySchedule(policy, classify, deadlineMs))
  })
