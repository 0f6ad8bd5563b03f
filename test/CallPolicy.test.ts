/**
 * The one call policy (`internal/callPolicy.ts`) on its own, under the TestClock and a `Random`
 * that draws what the test says: when attempts are made, how long each wait is, what ends a call.
 * The sources' tests check the same policy through real servers; these pin the schedule's edges.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Random from "effect/Random"
import * as TestClock from "effect/TestClock"
import * as CallPolicy from "../src/internal/callPolicy.js"

type Failure = { readonly _tag: "Failed"; readonly attempt: number } | {
  readonly _tag: "TimedOut"
  readonly limit: Duration.Duration
}

/** A `Random` whose every draw is `r`, counting the draws of `next` (the one the policy uses). */
const drawing = (r: number) => {
  const state = { draws: 0 }
  const random: Random.Random = {
    [Random.RandomTypeId]: Random.RandomTypeId,
    next: Effect.sync(() => {
      state.draws++
      return r
    }),
    nextBoolean: Effect.succeed(r >= 0.5),
    nextInt: Effect.succeed(Math.floor(r * Number.MAX_SAFE_INTEGER)),
    nextRange: (min, max) => Effect.succeed(min + r * (max - min)),
    nextIntBetween: (min, max) => Effect.succeed(min + Math.floor(r * (max - min))),
    shuffle: (elements) => Random.make(r).shuffle(elements)
  }
  return { random, state }
}

/**
 * Runs `CallPolicy.run` with attempts that fail at once (or, with `hang`, never end), moving the
 * TestClock 10 ms at a time (it wakes each sleep at its own instant) until it is done: the instants of the attempts, what
 * `isRetryable` was asked, and the exit.
 */
const runPolicy = (options: {
  readonly policy: CallPolicy.Policy
  readonly random: Random.Random
  readonly hang?: boolean
  readonly isRetryable?: (failure: Failure, made: number) => boolean
}) =>
  Effect.gen(function*() {
    const instants: Array<number> = []
    const asked: Array<number> = []
    const attempt = Effect.gen(function*() {
      instants.push(yield* Clock.currentTimeMillis)
      if (options.hang === true) return yield* Effect.never
      return yield* Effect.fail<Failure>({ _tag: "Failed", attempt: instants.length })
    })
    const fiber = yield* CallPolicy.run(attempt, options.policy, {
      isRetryable: (failure, made) => {
        asked.push(made)
        return options.isRetryable?.(failure, made) ?? true
      },
      isTimeout: (failure) => failure._tag === "TimedOut",
      timedOut: (limit): Failure => ({ _tag: "TimedOut", limit })
    }).pipe(Effect.withRandom(options.random), Effect.fork)
    for (let step = 0; step < 10_000 && fiber.unsafePoll() === null; step++) {
      yield* TestClock.adjust(Duration.millis(10))
    }
    return { instants, asked, exit: yield* Fiber.await(fiber) }
  })

const failureOf = <A>(exit: Exit.Exit<A, Failure>): Failure => {
  assert.isTrue(Exit.isFailure(exit))
  const failure = Exit.isFailure(exit) && exit.cause._tag === "Fail" ? exit.cause.error : undefined
  assert.isDefined(failure)
  return failure!
}

describe("CallPolicy.run", () => {
  it.effect("waits: exponential steps capped at maxBackoff, equal jitter from Random, within the attempt budget", () =>
    Effect.gen(function*() {
      const { random, state } = drawing(0.5)
      const policy = CallPolicy.make({
        timeout: Duration.seconds(1),
        attempts: 5,
        backoff: Duration.millis(100),
        maxBackoff: Duration.millis(300),
        deadline: Duration.minutes(1)
      })
      const { asked, exit, instants } = yield* runPolicy({ policy, random })
      // Steps 100, 200, 300, 300 (capped); each wait is half the step plus half of it times 0.5.
      assert.deepStrictEqual(instants, [0, 75, 225, 450, 675])
      assert.deepStrictEqual(asked, [1, 2, 3, 4])
      assert.strictEqual(state.draws, 4)
      assert.deepStrictEqual(failureOf(exit), { _tag: "Failed", attempt: 5 })
    }))

  it.effect("a wait is never more than maxBackoff, whatever Random draws", () =>
    Effect.gen(function*() {
      const { random } = drawing(0.999)
      const policy = CallPolicy.make({ timeout: Duration.seconds(1), attempts: 3, backoff: Duration.seconds(5) })
      const { instants } = yield* runPolicy({ policy, random })
      assert.strictEqual(instants.length, 3)
      assert.isAtMost(instants[1]! - instants[0]!, 1000)
      assert.isAtLeast(instants[1]! - instants[0]!, 999)
    }))

  it.effect("a timed-out attempt is retried at once, with no random draw", () =>
    Effect.gen(function*() {
      const { random, state } = drawing(0.5)
      const policy = CallPolicy.make({ timeout: Duration.seconds(1), attempts: 3 })
      const { exit, instants } = yield* runPolicy({ policy, random, hang: true })
      assert.deepStrictEqual(instants, [0, 1000, 2000])
      assert.strictEqual(state.draws, 0)
      assert.strictEqual(failureOf(exit)._tag, "TimedOut")
    }))

  it.effect("what isRetryable refuses ends the call after that attempt, with no random draw", () =>
    Effect.gen(function*() {
      const { random, state } = drawing(0.5)
      const policy = CallPolicy.make({ timeout: Duration.seconds(1), attempts: 5 })
      const { asked, exit, instants } = yield* runPolicy({ policy, random, isRetryable: (_, made) => made < 2 })
      assert.deepStrictEqual(instants, [0, 75])
      assert.deepStrictEqual(asked, [1, 2])
      assert.strictEqual(state.draws, 1)
      assert.deepStrictEqual(failureOf(exit), { _tag: "Failed", attempt: 2 })
    }))

  it.effect("one attempt in the budget: isRetryable is not asked", () =>
    Effect.gen(function*() {
      const { random } = drawing(0.5)
      const { asked, instants } = yield* runPolicy({
        policy: CallPolicy.make({ timeout: Duration.seconds(1), attempts: 1 }),
        random
      })
      assert.deepStrictEqual(instants, [0])
      assert.deepStrictEqual(asked, [])
    }))

  it.effect("the deadline: a wait that would end at or past it ends the call", () =>
    Effect.gen(function*() {
      const { random } = drawing(0)
      const policy = CallPolicy.make({
        timeout: Duration.seconds(1),
        attempts: 10,
        backoff: Duration.seconds(1),
        maxBackoff: Duration.seconds(1),
        deadline: Duration.millis(2500)
      })
      // Waits of 500 ms: the sixth attempt would start at 2500, the deadline.
      const { exit, instants } = yield* runPolicy({ policy, random })
      assert.deepStrictEqual(instants, [0, 500, 1000, 1500, 2000])
      assert.deepStrictEqual(failureOf(exit), { _tag: "Failed", attempt: 5 })
    }))

  it.effect("the deadline: an attempt's limit is what is left of it", () =>
    Effect.gen(function*() {
      const { random } = drawing(0.5)
      const policy = CallPolicy.make({ timeout: Duration.seconds(1), attempts: 3, deadline: Duration.millis(1500) })
      const { exit, instants } = yield* runPolicy({ policy, random, hang: true })
      assert.deepStrictEqual(instants, [0, 1000])
      const failure = failureOf(exit)
      assert.strictEqual(failure._tag, "TimedOut")
      if (failure._tag === "TimedOut") assert.strictEqual(Duration.toMillis(failure.limit), 500)
    }))
})
