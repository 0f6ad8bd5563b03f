/**
 * Simulating credentials that live a different time on each fetch, on the `TestClock`, against
 * the loopback fakes.
 *
 * `make` watches a source layer's refreshes (the engine's `AwsCredentials.refresh` spans) so that
 * the simulation can wait for one in flight over real loopback HTTP before it moves the clock
 * again; otherwise the clock would run on while the request travels, and the fake would date its
 * answer later than the moment the refresh started. `sampleEvery` drives the clock and calls
 * `get`; `assertRefreshedAhead` checks what happened against the refresh contract.
 */
import { assert } from "@effect/vitest"
import * as Clock from "effect/Clock"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as TestClock from "effect/TestClock"
import * as Tracer from "effect/Tracer"
import type { AwsCredentials } from "../../src/AwsCredentials.js"
import * as CredentialsCache from "../../src/CredentialsCache.js"
import type { CredentialsError } from "../../src/CredentialsError.js"

export interface RefreshWatch {
  /** Provide with `Effect.withTracer` around everything that builds and uses the layer. */
  readonly tracer: Tracer.Tracer
  /** Refreshes started so far (the initial resolution is not one). */
  readonly started: () => number
  /** Waits, in real time, until no refresh is in flight; fails the test after `limitMs`. */
  readonly idle: (limitMs?: number) => Effect.Effect<void>
}

const realPause = (ms: number) => Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, ms)))

export const make = (): RefreshWatch => {
  let started = 0
  let open = 0
  const tracer = Tracer.make({
    span(name, parent, context, links, startTime, kind, options) {
      const refresh = name === "AwsCredentials.refresh"
      if (refresh) {
        started++
        open++
      }
      let ended = false
      const attributes = new Map<string, unknown>(Object.entries(options?.attributes ?? {}))
      const span: Tracer.Span = {
        _tag: "Span",
        name,
        spanId: `span-${started}-${open}`,
        traceId: "trace",
        parent,
        context,
        status: { _tag: "Started", startTime },
        attributes,
        links,
        sampled: true,
        kind,
        end: () => {
          if (refresh && !ended) open--
          ended = true
        },
        attribute: (key, value) => {
          attributes.set(key, value)
        },
        event: () => {},
        addLinks: () => {}
      }
      return span
    },
    context: (f) => f()
  })
  const idle = (limitMs = 10_000) =>
    Effect.gen(function*() {
      // A refresh the clock has just made due starts on the next turns of the event loop.
      yield* realPause(1)
      const deadline = Date.now() + limitMs
      while (open > 0) {
        if (Date.now() > deadline) {
          return yield* Effect.die(new Error(`a refresh was still in flight after ${limitMs} ms`))
        }
        yield* realPause(2)
      }
    })
  return { tracer, started: () => started, idle }
}

/** What `get` returned at one moment of a simulation. */
export interface Sample {
  readonly at: number
  readonly accessKeyId: string
  readonly expiresAt: number
}

/**
 * Moves the `TestClock` by `every`, `steps` times, letting each refresh that falls due finish
 * before the next step, and calls `get` after every step.
 */
export const sampleEvery = (
  service: AwsCredentials["Type"],
  watch: RefreshWatch,
  every: Duration.DurationInput,
  steps: number
): Effect.Effect<ReadonlyArray<Sample>, CredentialsError> =>
  Effect.gen(function*() {
    const samples: Array<Sample> = []
    for (let i = 0; i < steps; i++) {
      yield* TestClock.adjust(every)
      yield* watch.idle()
      const at = yield* Clock.currentTimeMillis
      const credentials = yield* service.get
      // A get can start a refresh too: let it finish at this moment as well.
      yield* watch.idle()
      samples.push({
        at,
        accessKeyId: credentials.accessKeyId,
        expiresAt: Option.match(credentials.expiration, {
          onNone: () => Number.POSITIVE_INFINITY,
          onSome: DateTime.toEpochMillis
        })
      })
    }
    return samples
  })

/** One fetch as the fake server saw it: when it answered, and the expiry it gave. */
export interface Fetch {
  readonly at: number
  readonly expiresAt: number
}

/**
 * Checks a simulation against the refresh contract (see `CredentialsCache` and the README): each
 * set of credentials was replaced in the background as its own advisory window opened (15 minutes
 * before its expiry, or half-way through its life when it lives shorter than that allows), within
 * the jitter and one clock step, so always before it expired; and no `get` was ever answered with
 * expired credentials or with anything but the newest set.
 */
export const assertRefreshedAhead = (
  fetches: ReadonlyArray<Fetch>,
  samples: ReadonlyArray<Sample>,
  stepMs: number
): void => {
  const advisory = Duration.toMillis(CredentialsCache.defaultPolicy.advisoryWindow)
  const jitter = Duration.toMillis(CredentialsCache.defaultPolicy.jitter)
  for (let i = 1; i < fetches.length; i++) {
    const previous = fetches[i - 1]!
    const life = previous.expiresAt - previous.at
    const opens = Math.max(previous.expiresAt - advisory, previous.at + life / 2)
    const at = fetches[i]!.at
    const what = `fetch ${i + 1} at +${(at - fetches[0]!.at) / 60_000} min ` +
      `(the previous set lived ${life / 60_000} min)`
    assert.isAtLeast(at, opens, `${what}: before the advisory window opened`)
    assert.isAtMost(at, opens + jitter + stepMs, `${what}: well after the advisory window opened`)
    assert.isBelow(at, previous.expiresAt, `${what}: not ahead of the previous set's expiry`)
  }
  for (const sample of samples) {
    const when = `get at ${new Date(sample.at).toISOString()}`
    assert.isBelow(sample.at, sample.expiresAt, `${when} served expired credentials`)
    const newest = fetches.filter((fetch) => fetch.at <= sample.at).at(-1)
    assert.isDefined(newest)
    assert.approximately(sample.expiresAt, newest!.expiresAt, 1000, `${when} did not serve the newest set`)
  }
}
