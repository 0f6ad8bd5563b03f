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

/** The wait before attempt `next` (2 or more): capped exponential with equal jitter. */
const waitBefore = (policy: Policy, next: number): Effect.Effect<Duration.Duration> =>
  Effect.map(Random.next, (random) => {
    const step = Math.min(
      Duration.toMillis(policy.maxBackoff),
      Duration.toMillis(policy.backoff) * 2 ** Math.min(30, next - 2)
    )
    return Duration.millis(step / 2 + (step / 2) * random)
  })

/**
 * Runs `attempt` under `policy`. `isRetryable` says which failures another attempt may cure;
 * `timedOut` makes the failure of an attempt that passed its timeout (or the deadline);
 * `isTimeout` tells such failures apart, so that they are retried without a wait. The last
 * failure is returned as it is, so callers can say how many attempts were made
 * (`onAttempt` counts them).
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
  Effect.gen(function*() {
    const start = yield* Clock.currentTimeMillis
    const deadlineMs = start + Duration.toMillis(policy.deadline)
    let made = 0
    while (true) {
      made++
      classify.onAttempt?.(made)
      const now = yield* Clock.currentTimeMillis
      const left = Duration.millis(Math.max(0, deadlineMs - now))
      const limit = Duration.min(policy.timeout, left)
      // An infinite limit: the attempt keeps its own timeout (the S3 client's request handler).
      const result = yield* (Duration.isFinite(limit)
        ? Effect.timeoutFail(attempt, { duration: limit, onTimeout: () => classify.timedOut(limit) })
        : attempt).pipe(Effect.either)
      if (result._tag === "Right") return result.right
      const failure = result.left
      if (made >= policy.attempts || !classify.isRetryable(failure, made)) return yield* Effect.fail(failure)
      const wait = classify.isTimeout?.(failure) === true ? Duration.zero : yield* waitBefore(policy, made + 1)
      const after = (yield* Clock.currentTimeMillis) + Duration.toMillis(wait)
      // No time left for another attempt after the wait: give up now with what we have.
      if (after >= deadlineMs) return yield* Effect.fail(failure)
      if (Duration.toMillis(wait) > 0) yield* Effect.sleep(wait)
    }
  })
