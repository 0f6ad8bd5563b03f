/**
 * A clock for long simulations. `TestClock` waits for every fiber to suspend (two real timer
 * ticks) on each adjustment, which makes a simulated day with a call every few seconds take a
 * minute; this clock only moves when told and only yields to the runtime when a sleeper is due.
 * Use it with `Effect.withClock(manual.clock)` around everything that must share the time.
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"

export interface ManualClock {
  readonly clock: Clock.Clock
  /** Moves the time forward, waking sleepers in order and letting their fibers run. */
  readonly advance: (duration: Duration.DurationInput) => Effect.Effect<void>
  readonly now: () => number
}

/** Lets every fiber that can run, run (Effect's scheduler and its timers included). */
const settle = Effect.promise(() => new Promise<void>((resolve) => setTimeout(() => setImmediate(resolve), 0)))

export const make = (startMillis: number): ManualClock => {
  let now = startMillis
  const sleepers = new Set<{ readonly at: number; readonly wake: () => void }>()
  const clock: Clock.Clock = {
    [Clock.ClockTypeId]: Clock.ClockTypeId,
    unsafeCurrentTimeMillis: () => now,
    currentTimeMillis: Effect.sync(() => now),
    unsafeCurrentTimeNanos: () => BigInt(now) * 1_000_000n,
    currentTimeNanos: Effect.sync(() => BigInt(now) * 1_000_000n),
    sleep: (duration) =>
      Effect.async<void>((resume) => {
        const sleeper = { at: now + Duration.toMillis(Duration.decode(duration)), wake: () => resume(Effect.void) }
        sleepers.add(sleeper)
        return Effect.sync(() => {
          sleepers.delete(sleeper)
        })
      })
  }
  const advance = (duration: Duration.DurationInput) =>
    Effect.gen(function*() {
      const target = now + Duration.toMillis(Duration.decode(duration))
      while (true) {
        let next: { readonly at: number; readonly wake: () => void } | undefined
        for (const sleeper of sleepers) if (next === undefined || sleeper.at < next.at) next = sleeper
        if (next === undefined || next.at > target) break
        sleepers.delete(next)
        now = Math.max(now, next.at)
        next.wake()
        yield* settle
      }
      now = target
    })
  return { clock, advance, now: () => now }
}
