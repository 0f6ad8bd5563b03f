/**
 * Lets long `TestClock` simulations run fast. Each `TestClock.adjust` waits until every fiber of
 * the test is suspended, polling around `setTimeout(..., 0)`, which Node clamps to 1 ms: about
 * 4 ms per adjustment, so a simulated day with a call every 5 seconds (17,280 adjustments)
 * takes over a minute. While the scope is open, zero-delay timers run as `setImmediate` instead:
 * the same "let everything that can run, run" step, without the 1 ms floor. Nothing else
 * changes (timers with a delay are untouched; the TestClock's semantics are the same).
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"

type Handle = ReturnType<typeof setImmediate>

export const fastZeroDelayTimers: Effect.Effect<void, never, Scope.Scope> = Effect.asVoid(Effect.acquireRelease(
  Effect.sync(() => {
    const original = { setTimeout: globalThis.setTimeout, clearTimeout: globalThis.clearTimeout }
    const immediates = new WeakSet<object>()
    const patchedSet = (callback: (...args: Array<unknown>) => void, delay?: number, ...args: Array<unknown>) => {
      if (delay !== undefined && delay > 0) return original.setTimeout(callback, delay, ...args)
      const handle: Handle = setImmediate(callback, ...args)
      immediates.add(handle)
      return handle
    }
    const patchedClear = (handle: unknown) => {
      if (typeof handle === "object" && handle !== null && immediates.has(handle)) clearImmediate(handle as Handle)
      else original.clearTimeout(handle as Parameters<typeof clearTimeout>[0])
    }
    globalThis.setTimeout = patchedSet as unknown as typeof setTimeout
    globalThis.clearTimeout = patchedClear as typeof clearTimeout
    return original
  }),
  (original) =>
    Effect.sync(() => {
      globalThis.setTimeout = original.setTimeout
      globalThis.clearTimeout = original.clearTimeout
    })
))
