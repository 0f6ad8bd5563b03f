/**
 * An in-memory credential source for the refresh engine's tests, and helpers to drive it on the
 * `TestClock`: every source layer goes through the same engine (`sourceLayer`), so what holds
 * here holds for all of them.
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Random from "effect/Random"
import * as Ref from "effect/Ref"
import type * as Scope from "effect/Scope"
import * as TestClock from "effect/TestClock"
import { AwsCredentials } from "../../src/AwsCredentials.js"
import * as Credentials from "../../src/Credentials.js"
import { CredentialsError, type CredentialsUnavailable } from "../../src/CredentialsError.js"
import { sourceLayer } from "../../src/internal/provider.js"
import { fastZeroDelayTimers } from "./fastTimers.js"

/** The simulations start here (TestClock time). */
export const start = Date.parse("2030-06-01T00:00:00Z")
export const minute = 60_000
/** Handed out as the secret key: no log line or error may ever show it. */
export const secret = "refreshSecretNeverLogged0000000000000001"

export interface Fetch {
  /** 1-based, in the order the source was asked. */
  readonly n: number
  readonly at: number
  /** What the source did (the engine may still refuse credentials that are about to expire). */
  readonly outcome: "ok" | "failed" | "died"
}

export interface FakeSource {
  /** How many times the source was asked. */
  readonly fetches: Ref.Ref<number>
  /** Every fetch, in order. */
  readonly log: Array<Fetch>
  /** Decides, per fetch number (1-based) and time, whether it fails with a `CredentialsError`. */
  readonly failing: Ref.Ref<(n: number, now: number) => boolean>
  /** Decides whether it dies (a defect whose message holds the secret). */
  readonly dying: Ref.Ref<(n: number, now: number) => boolean>
  /** When set, fetches wait for it (to hold a refresh in flight). */
  readonly gate: Ref.Ref<Deferred.Deferred<void> | undefined>
  /** The life, in milliseconds, of the credentials of fetch `n` (`undefined`: no expiry). */
  readonly lifetime: Ref.Ref<(n: number) => number | undefined>
  readonly layer: Layer.Layer<AwsCredentials, CredentialsUnavailable | CredentialsError>
}

/**
 * A source handing out credentials that live `life` from the moment they are fetched (a number
 * is milliseconds and may be negative: credentials that expired before they were handed out);
 * `undefined`: no expiry.
 */
export const fakeSource = (life: Duration.DurationInput | undefined): Effect.Effect<FakeSource> =>
  Effect.gen(function*() {
    const lifeMs = life === undefined ? undefined : typeof life === "number" ? life : Duration.toMillis(life)
    const fetches = yield* Ref.make(0)
    const log: Array<Fetch> = []
    const failing = yield* Ref.make<(n: number, now: number) => boolean>(() => false)
    const dying = yield* Ref.make<(n: number, now: number) => boolean>(() => false)
    const gate = yield* Ref.make<Deferred.Deferred<void> | undefined>(undefined)
    const lifetime = yield* Ref.make<(n: number) => number | undefined>(() => lifeMs)
    const resolve = Effect.gen(function*() {
      const n = yield* Ref.updateAndGet(fetches, (k) => k + 1)
      const wait = yield* Ref.get(gate)
      if (wait !== undefined) yield* Deferred.await(wait)
      const now = yield* Clock.currentTimeMillis
      if ((yield* Ref.get(dying))(n, now)) {
        log.push({ n, at: now, outcome: "died" })
        return yield* Effect.die(new Error(`fetch ${n} blew up holding ${secret}`))
      }
      if ((yield* Ref.get(failing))(n, now)) {
        log.push({ n, at: now, outcome: "failed" })
        return yield* new CredentialsError({ source: "custom-process", reason: "ProcessFailed", detail: `fetch ${n} failed` })
      }
      log.push({ n, at: now, outcome: "ok" })
      const ms = (yield* Ref.get(lifetime))(n)
      return Credentials.make({
        accessKeyId: `AKIAFETCH${n}`,
        secretAccessKey: secret,
        expiration: ms === undefined ? undefined : new Date(now + ms),
        source: "custom-process",
        provenance: "fake"
      })
    })
    return { fetches, log, failing, dying, gate, lifetime, layer: sourceLayer("custom-process", resolve) }
  })

/** Builds a source layer in the current scope and returns its service. */
export const serviceOf = <E>(
  layer: Layer.Layer<AwsCredentials, E>
): Effect.Effect<AwsCredentials["Type"], E, Scope.Scope> =>
  Effect.map(Layer.build(layer), (context) => Context.get(context, AwsCredentials))

/**
 * Calls `get` every `every` for `total` on the TestClock (adjust, then get), returning how many
 * calls succeeded and failed; `onResult` sees each call's time and outcome.
 */
export const callEvery = (
  service: AwsCredentials["Type"],
  every: Duration.DurationInput,
  total: Duration.DurationInput,
  onResult?: (now: number, exit: Exit.Exit<Credentials.Credentials, CredentialsError>) => void
): Effect.Effect<{ readonly ok: number; readonly failed: number }> =>
  Effect.gen(function*() {
    const step = Duration.decode(every)
    const steps = Math.floor(Duration.toMillis(Duration.decode(total)) / Duration.toMillis(step))
    const counts = { ok: 0, failed: 0 }
    for (let i = 0; i < steps; i++) {
      yield* TestClock.adjust(step)
      const now = yield* Clock.currentTimeMillis
      const exit = yield* Effect.exit(service.get)
      if (Exit.isSuccess(exit)) counts.ok++
      else counts.failed++
      onResult?.(now, exit)
    }
    return counts
  })

/**
 * Runs a simulation on the TestClock from `start`, in a scope, with a seeded `Random` (the
 * engine's jitter) so that the counts are the same on every run, and with zero-delay timers
 * fast enough for tens of thousands of clock adjustments (see fastTimers.ts).
 */
export const simulation = <A, E>(seed: string, body: Effect.Effect<A, E, Scope.Scope>): Effect.Effect<A, E> =>
  Effect.scoped(
    Effect.gen(function*() {
      yield* fastZeroDelayTimers
      yield* TestClock.setTime(start)
      return yield* body
    })
  ).pipe(Effect.withRandom(Random.make(seed)))
