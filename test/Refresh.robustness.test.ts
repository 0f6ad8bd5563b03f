/**
 * The refresh engine against misbehaving sources, on the TestClock: credentials that arrive
 * expired or about to expire, defects inside a fetch, invalidations while the source is failing,
 * callers in the mandatory window, and refresh policies that make no sense. Each test states the
 * bound the design gives and checks the count against it.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Inspectable from "effect/Inspectable"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Ref from "effect/Ref"
import * as TestClock from "effect/TestClock"
import * as util from "node:util"
import type * as Credentials from "../src/Credentials.js"
import * as CredentialsCache from "../src/CredentialsCache.js"
import type { CredentialsError } from "../src/CredentialsError.js"
import { withCapturedLogs } from "./support/fixtures.js"
import { callEvery, fakeSource, minute, secret, serviceOf, simulation, start } from "./support/refreshSource.js"

type GetExit = Exit.Exit<Credentials.Credentials, CredentialsError>

const errorOf = (exit: GetExit): CredentialsError | undefined =>
  Exit.isFailure(exit) ? Option.getOrUndefined(Cause.failureOption(exit.cause)) : undefined

/**
 * The most fetches that fit in `windowMs` after a first one when the k-th gap is at least
 * `gap(k)`.
 */
const attemptBound = (windowMs: number, gap: (k: number) => number): number => {
  let attempts = 1
  let elapsed = 0
  for (let k = 1;; k++) {
    elapsed += gap(k)
    if (elapsed > windowMs) return attempts
    attempts++
  }
}

/**
 * The default backoff's smallest wait before retry k: half of min(2^(k-1) s, 60 s) (the jitter
 * keeps 50-100 % of the wait), so 0.5 + 1 + 2 + 4 + 8 + 16 s for the first six, then 30 s each.
 */
const minimumBackoff = (k: number): number => 500 * Math.min(2 ** (k - 1), 60)

const backoffBound = (windowMs: number): number => attemptBound(windowMs, minimumBackoff)

/** Each gap between consecutive fetches is at least the smallest backoff of its retry. */
const assertBackoffGaps = (times: ReadonlyArray<number>): void => {
  for (let k = 1; k < times.length; k++) {
    assert.isAtLeast(times[k]! - times[k - 1]!, minimumBackoff(k), `retry ${k} came too soon`)
  }
}

const failureCount = Effect.map(
  Metric.value(
    CredentialsCache.refreshes.pipe(Metric.tagged("source", "custom-process"), Metric.tagged("outcome", "failure"))
  ),
  (state) => state.count
)

const staleCount = Effect.map(
  Metric.value(CredentialsCache.servedStale.pipe(Metric.tagged("source", "custom-process"))),
  (state) => state.count
)

describe("refresh engine: credentials that arrive expired or about to expire", () => {
  it.effect("an always-expired source fails every get with Expired, and is asked at the backoff's pace (at most 125 times an hour)", () =>
    simulation(
      "always-expired",
      Effect.gen(function*() {
        const source = yield* fakeSource(-minute)
        const service = yield* serviceOf(source.layer)
        const errors: Array<CredentialsError | undefined> = []
        const { failed, ok } = yield* callEvery(service, "1 second", "1 hour", (_, exit) => {
          errors.push(errorOf(exit))
        })
        const fetches = yield* Ref.get(source.fetches)
        const bound = backoffBound(60 * minute)
        console.log(
          `refresh: an always-expired source, a get every second for 1 h: ${failed} failed gets, ${fetches} fetches (bound ${bound})`
        )
        assert.strictEqual(bound, 125)
        assert.strictEqual(ok, 0)
        assert.isAtMost(fetches, bound)
        assertBackoffGaps(source.log.map((fetch) => fetch.at))
        for (const error of errors) {
          assert.strictEqual(error?.reason, "Expired")
          assert.strictEqual(error?.source, "custom-process")
          assert.match(
            error!.message,
            /^custom-process: the source returned credentials that had already expired \(expiration \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z, 1m before they were fetched\); check the local clock/
          )
        }
      })
    ))

  it.effect("1-second credentials are served while valid and fetched every 15 s (the minimum interval), never every 0.5 s", () =>
    simulation(
      "one-second",
      Effect.gen(function*() {
        const source = yield* fakeSource("1 second")
        const service = yield* serviceOf(source.layer)
        let last: CredentialsError | undefined
        let served = 0
        const { failed } = yield* callEvery(service, "1 second", "1 hour", (_, exit) => {
          last = errorOf(exit) ?? last
          if (Exit.isSuccess(exit)) served++
        })
        const fetches = yield* Ref.get(source.fetches)
        console.log(
          `refresh: 1-second credentials, a get every second for 1 h: ${served} served, ${failed} failed gets, ${fetches} fetches`
        )
        // One fetch at the start, then one every 15 s: 3600 / 15 + 1.
        assert.strictEqual(fetches, 241)
        const gaps = new Set(source.log.slice(1).map((fetch, i) => fetch.at - source.log[i]!.at))
        assert.deepStrictEqual(gaps, new Set([15_000]))
        // Each set is served during its second of life; between fetches get fails at once, saying when.
        assert.isAtLeast(served, 240)
        assert.strictEqual(last?.reason, "Expired")
        assert.match(last!.message, /expired at 2030-06-01T.*, 1s after they were fetched; the source is asked again no sooner than 15s after its last fetch/)
      })
    ))

  it.effect("credentials that live 20 s are refreshed every 15 s (the minimum interval) and never fail", () =>
    simulation(
      "twenty-seconds",
      Effect.gen(function*() {
        const source = yield* fakeSource("20 seconds")
        const service = yield* serviceOf(source.layer)
        const { failed } = yield* callEvery(service, "1 second", "1 hour")
        const fetches = yield* Ref.get(source.fetches)
        console.log(`refresh: 20-second credentials for 1 h: ${failed} failed gets, ${fetches} fetches (3600 / 15 + 1)`)
        assert.strictEqual(failed, 0)
        assert.strictEqual(fetches, 241)
        const gaps = new Set(source.log.slice(1).map((fetch, i) => fetch.at - source.log[i]!.at))
        assert.deepStrictEqual(gaps, new Set([15_000]))
      })
    ))

  it.effect("expired credentials from a refresh are a failed refresh: logged, counted, and the valid ones are kept until they expire", () =>
    simulation(
      "refused-refresh",
      Effect.gen(function*() {
        const source = yield* fakeSource("1 hour")
        yield* Ref.set(source.lifetime, (n) => (n === 1 ? 60 * minute : -5 * minute))
        const before = yield* failureCount
        const [exit, lines] = yield* withCapturedLogs(Effect.gen(function*() {
          const service = yield* serviceOf(source.layer)
          const served = yield* callEvery(service, "10 seconds", "59 minutes", (_, exit) => {
            assert.strictEqual(Exit.isSuccess(exit) ? exit.value.accessKeyId : undefined, "AKIAFETCH1")
          })
          yield* TestClock.adjust("2 minutes")
          return [served, yield* Effect.flip(service.get)] as const
        }))
        const [served, error] = Exit.getOrElse(exit, () => assert.fail("the simulation failed"))
        assert.strictEqual(served.failed, 0)
        assert.strictEqual(error.reason, "Expired")
        const warning = lines.find((line) => line.level._tag === "Warning")
        assert.strictEqual(warning?.annotations.reason, "Expired")
        assert.strictEqual(warning?.annotations.source, "custom-process")
        assert.isAbove((yield* failureCount) - before, 0)
      })
    ))
})

describe("refresh engine: a defect inside a fetch", () => {
  it.effect("a source that dies once: counted, logged, backed off; gets keep being served; the background fiber refreshes later", () =>
    simulation(
      "dies-once",
      Effect.gen(function*() {
        const source = yield* fakeSource("1 hour")
        yield* Ref.set(source.dying, (n) => n === 2)
        const before = yield* failureCount
        const keys: Array<{ readonly now: number; readonly key: string | undefined }> = []
        const [exit, lines] = yield* withCapturedLogs(Effect.gen(function*() {
          const service = yield* serviceOf(source.layer)
          const record = (now: number, exit: GetExit) =>
            keys.push({ now, key: Exit.isSuccess(exit) ? exit.value.accessKeyId : undefined })
          yield* TestClock.adjust("44 minutes")
          yield* callEvery(service, "1 second", "3 minutes", record)
          yield* callEvery(service, "1 minute", "60 minutes", record)
        }))
        assert.isTrue(Exit.isSuccess(exit))
        const [, died, retried, later] = source.log
        console.log(
          `refresh: a fetch that dies: retried ${retried!.at - died!.at} ms later, next refresh ${
            (later!.at - retried!.at) / minute
          } min after that`
        )
        assert.strictEqual(died?.outcome, "died")
        assert.isAtLeast(died!.at, start + 45 * minute)
        // Backoff: the first retry 0.5-1 s after the failure, not at once and not in a loop.
        assert.strictEqual(retried?.outcome, "ok")
        assert.isAtLeast(retried!.at - died!.at, 500)
        assert.isAtMost(retried!.at - died!.at, 1_000)
        // The background fiber survived: it refreshed the next set at its own advisory moment.
        assert.strictEqual(later?.outcome, "ok")
        assert.isAtLeast(later!.at - retried!.at, 45 * minute)
        assert.isAtMost(later!.at - retried!.at, 45.5 * minute)
        for (const { key, now } of keys) assert.isDefined(key, `get failed at ${now - start} ms`)
        assert.strictEqual(keys.find((k) => k.now >= retried!.at)?.key, "AKIAFETCH3")
        assert.strictEqual((yield* failureCount) - before, 1)
        const warnings = lines.filter((line) => line.level._tag === "Warning")
        assert.strictEqual(warnings.length, 1)
        assert.strictEqual(warnings[0]!.annotations.reason, "InvalidResponse")
        assert.strictEqual(warnings[0]!.annotations.source, "custom-process")
        for (const line of lines) {
          assert.notInclude(line.rendered, secret)
          assert.notInclude(line.rendered, "blew up")
        }
      })
    ))

  it.effect("a source that always dies: gets in the advisory window do not each start a fetch; valid credentials are served; after expiry the error carries the defect, redacted", () =>
    simulation(
      "always-dies",
      Effect.gen(function*() {
        const source = yield* fakeSource("1 hour")
        yield* Ref.set(source.dying, (n) => n >= 2)
        const service = yield* serviceOf(source.layer)
        yield* TestClock.adjust("44 minutes")
        // Advisory window (45 to 50 minutes): a get every second, none waits and none fails.
        const advisory = yield* callEvery(service, "1 second", "5 minutes")
        const inAdvisory = (yield* Ref.get(source.fetches)) - 1
        console.log(
          `refresh: a source that always dies, 300 gets in the advisory window: ${inAdvisory} fetches (bound ${
            backoffBound(4 * minute)
          })`
        )
        assert.strictEqual(advisory.failed, 0)
        assert.isAtMost(inAdvisory, backoffBound(4 * minute))
        assertBackoffGaps(source.log.slice(1).map((fetch) => fetch.at))
        // Mandatory window: still valid, so served.
        yield* TestClock.adjust("5 minutes")
        assert.strictEqual((yield* service.get).accessKeyId, "AKIAFETCH1")
        // Expired: the refresh error, which carries the defect only in redacted form.
        yield* TestClock.adjust("11 minutes")
        const exit = yield* Effect.exit(service.get)
        const error = errorOf(exit)!
        assert.strictEqual(error.reason, "InvalidResponse")
        assert.strictEqual(error.source, "custom-process")
        assert.match(error.message, /^custom-process: the source failed with an unexpected Error \(a defect in the source\)/)
        assert.isTrue(Redacted.isRedacted(error.cause))
        const defect = Redacted.value(error.cause as Redacted.Redacted<unknown>)
        assert.instanceOf(defect, Error)
        assert.include((defect as Error).message, secret)
        const renderings = [
          error.message,
          String(error),
          error.stack ?? "",
          JSON.stringify(error),
          util.inspect(error, { depth: 10 }),
          util.inspect(exit, { depth: 10 }),
          util.format("%s %o %O %j", error, error, error, error),
          Inspectable.format(error),
          Cause.pretty(Cause.fail(error), { renderErrorCause: true }),
          Exit.isFailure(exit) ? Cause.pretty(exit.cause, { renderErrorCause: true }) : ""
        ]
        for (const text of renderings) {
          assert.notInclude(text, secret)
          assert.notInclude(text, "blew up")
        }
      })
    ))
})

describe("refresh engine: invalidate while the source is failing", () => {
  it.effect("100 invalidate+get pairs over 1 s: at most 2 fetches, every get fails fast with the refresh error, then recovery", () =>
    simulation(
      "invalidate-failing",
      Effect.gen(function*() {
        const source = yield* fakeSource("1 hour")
        let broken = true
        yield* Ref.set(source.failing, (n) => n >= 2 && broken)
        const service = yield* serviceOf(source.layer)
        yield* TestClock.adjust("10 minutes")
        const errors: Array<CredentialsError | undefined> = []
        for (let i = 0; i < 100; i++) {
          yield* service.invalidate
          errors.push(errorOf(yield* Effect.exit(service.get)))
          yield* TestClock.adjust("10 millis")
        }
        const fetches = (yield* Ref.get(source.fetches)) - 1
        // One fetch for the first invalidated get; the next is allowed only once both the
        // backoff (0.5-1 s) and the cooldown (5 s) have passed, so only the background fiber's
        // first retry (0.5-1 s after the failure) can fall inside the second.
        console.log(`refresh: 100 invalidate+get pairs over 1 s, source failing: ${fetches} fetches (bound 2)`)
        assert.isAtMost(fetches, 2)
        for (const error of errors) {
          assert.strictEqual(error?.reason, "ProcessFailed", "the invalidated credentials are never served")
          assert.match(error!.message, /^custom-process: fetch \d+ failed$/)
        }
        broken = false
        const after: Array<string | undefined> = []
        yield* callEvery(service, "1 second", "1 minute", (_, exit) => {
          after.push(Exit.isSuccess(exit) ? exit.value.accessKeyId : undefined)
        })
        const recovered = after.findIndex((key) => key !== undefined)
        assert.isAtLeast(recovered, 0)
        assert.notStrictEqual(after[recovered], "AKIAFETCH1")
        assert.isTrue(after.slice(recovered).every((key) => key === after[recovered]))
      })
    ))
})

describe("refresh engine: the mandatory window", () => {
  it.effect("while the source fails, every get is answered by an attempt at most 5 s old: served at once, the source asked at most once per 5 s", () =>
    simulation(
      "mandatory-failing",
      Effect.gen(function*() {
        const source = yield* fakeSource("1 hour")
        let broken = true
        yield* Ref.set(source.failing, (n) => n >= 2 && broken)
        const service = yield* serviceOf(source.layer)
        yield* TestClock.adjust("50 minutes")
        const fetchesBefore = yield* Ref.get(source.fetches)
        const staleBefore = yield* staleCount
        const from = yield* Clock.currentTimeMillis
        const { failed, ok } = yield* callEvery(service, "1 second", "5 minutes", (_, exit) => {
          assert.strictEqual(Exit.isSuccess(exit) ? exit.value.accessKeyId : undefined, "AKIAFETCH1")
        })
        const attempts = (yield* Ref.get(source.fetches)) - fetchesBefore
        const times = source.log.filter((fetch) => fetch.at > from).map((fetch) => fetch.at)
        console.log(
          `refresh: 300 gets over 5 min of the mandatory window, source failing: ${attempts} fetches (bound 61: one per 5 s)`
        )
        assert.strictEqual(failed, 0)
        assert.strictEqual(ok, 300)
        assert.isAtLeast(attempts, 59)
        assert.isAtMost(attempts, 61)
        for (let i = 1; i < times.length; i++) assert.isAtLeast(times[i]! - times[i - 1]!, 5_000)
        assert.strictEqual((yield* staleCount) - staleBefore, 300)
        // The source heals: the first get allowed to try waits for the fetch and gets its result.
        broken = false
        const keys: Array<{ readonly now: number; readonly key: string | undefined }> = []
        yield* callEvery(service, "1 second", "6 seconds", (now, exit) => {
          keys.push({ now, key: Exit.isSuccess(exit) ? exit.value.accessKeyId : undefined })
        })
        const fresh = source.log.find((fetch) => fetch.outcome === "ok" && fetch.n > 1)!
        assert.isDefined(fresh)
        const caller = keys.find((k) => k.now === fresh.at)
        assert.strictEqual(caller?.key, `AKIAFETCH${fresh.n}`, "the get that caused the fetch waited for it")
      })
    ))

  it.effect("concurrent callers in the mandatory window wait for one shared fetch", () =>
    simulation(
      "mandatory-shared",
      Effect.gen(function*() {
        const source = yield* fakeSource("1 hour")
        yield* Ref.set(source.failing, (n) => n >= 2)
        const service = yield* serviceOf(source.layer)
        yield* TestClock.adjust("51 minutes")
        // Past the cooldown after the background fiber's last attempt (its backoff is ~1 min now).
        const now = yield* Clock.currentTimeMillis
        const lastAttempt = source.log.at(-1)!.at
        if (now - lastAttempt < 5_000) yield* TestClock.adjust(Duration.millis(5_000 - (now - lastAttempt)))
        const fetchesBefore = yield* Ref.get(source.fetches)
        yield* Ref.set(source.failing, () => false)
        const gate = yield* Deferred.make<void>()
        yield* Ref.set(source.gate, gate)
        const callers = yield* Effect.fork(
          Effect.all(Array.from({ length: 1_000 }, () => service.get), { concurrency: "unbounded" })
        )
        // Every fiber runs until it waits (the clock does not move).
        yield* TestClock.adjust(Duration.zero)
        assert.isTrue(Option.isNone(yield* Fiber.poll(callers)), "callers wait for the refresh")
        assert.strictEqual((yield* Ref.get(source.fetches)) - fetchesBefore, 1)
        yield* Deferred.succeed(gate, undefined)
        const results = yield* Fiber.join(callers)
        assert.strictEqual((yield* Ref.get(source.fetches)) - fetchesBefore, 1)
        assert.deepStrictEqual(new Set(results.map((c) => c.accessKeyId)), new Set([`AKIAFETCH${fetchesBefore + 1}`]))
      })
    ))
})

describe("refresh engine: policy validation", () => {
  const read = (layer: Layer.Layer<never>) =>
    Effect.flatMap(withCapturedLogs(Effect.provide(CredentialsCache.RefreshPolicy, layer)), ([exit, lines]) =>
      Effect.map(exit, (policy) => ({
        policy,
        warnings: lines.filter((line) => line.level._tag === "Warning").map((line) => line.message)
      })))

  it.effect("layerPolicy: the mandatory window follows an advisory window set alone (and the reverse), silently", () =>
    Effect.gen(function*() {
      const alone = yield* read(CredentialsCache.layerPolicy({ advisoryWindow: "5 minutes" }))
      assert.strictEqual(Duration.toMinutes(alone.policy.advisoryWindow), 5)
      assert.strictEqual(Duration.toMinutes(alone.policy.mandatoryWindow), 5)
      assert.deepStrictEqual(alone.warnings, [])
      const mandatory = yield* read(CredentialsCache.layerPolicy({ mandatoryWindow: "20 minutes" }))
      assert.strictEqual(Duration.toMinutes(mandatory.policy.advisoryWindow), 20)
      assert.strictEqual(Duration.toMinutes(mandatory.policy.mandatoryWindow), 20)
      assert.deepStrictEqual(mandatory.warnings, [])
    }))

  it.effect("layerPolicy: a mandatory window larger than the advisory one given with it is lowered, with a warning", () =>
    Effect.gen(function*() {
      const { policy, warnings } = yield* read(
        CredentialsCache.layerPolicy({ advisoryWindow: "5 minutes", mandatoryWindow: "10 minutes" })
      )
      assert.strictEqual(Duration.toMinutes(policy.mandatoryWindow), 5)
      assert.strictEqual(warnings.length, 1)
      assert.include(warnings[0], "mandatoryWindow 10m is larger than advisoryWindow 5m")
    }))

  it.effect("layerPolicy: negative, infinite or unreadable durations keep their defaults, with a warning each, never a defect", () =>
    Effect.gen(function*() {
      const { policy, warnings } = yield* read(
        CredentialsCache.layerPolicy({
          retryBase: -5,
          invalidationCooldown: "-3 seconds",
          retryMax: Number.POSITIVE_INFINITY,
          jitter: "soon" as Duration.DurationInput
        })
      )
      assert.isTrue(Duration.equals(policy.retryBase, CredentialsCache.defaultPolicy.retryBase))
      assert.isTrue(Duration.equals(policy.invalidationCooldown, CredentialsCache.defaultPolicy.invalidationCooldown))
      assert.isTrue(Duration.equals(policy.retryMax, CredentialsCache.defaultPolicy.retryMax))
      assert.isTrue(Duration.equals(policy.jitter, CredentialsCache.defaultPolicy.jitter))
      assert.strictEqual(warnings.length, 4)
      for (const key of ["retryBase", "invalidationCooldown", "retryMax", "jitter"]) {
        assert.isTrue(warnings.some((warning) => warning.includes(`${key}: `)), key)
      }
    }))

  it.effect("a RefreshPolicy provided directly is made usable by the engine (crossed windows, zero retry and interval), with a warning; no loop", () =>
    simulation(
      "direct-policy",
      Effect.gen(function*() {
        const source = yield* fakeSource("1 hour")
        yield* Ref.set(source.failing, (n) => n >= 2)
        const policy = Layer.succeed(CredentialsCache.RefreshPolicy, {
          ...CredentialsCache.defaultPolicy,
          mandatoryWindow: Duration.minutes(20),
          retryBase: Duration.zero,
          minimumRefreshInterval: Duration.zero
        })
        const [exit, lines] = yield* withCapturedLogs(Effect.gen(function*() {
          const service = yield* serviceOf(Layer.provide(source.layer, policy))
          yield* TestClock.adjust("44 minutes")
          return yield* callEvery(service, "1 second", "10 minutes")
        }))
        const { failed } = Exit.getOrElse(exit, () => assert.fail("the simulation failed"))
        const fetches = (yield* Ref.get(source.fetches)) - 1
        // Both windows open at 45 min (the mandatory one lowered to the advisory one); from there to
        // the last get (54 min) the k-th gap between attempts is at least min(5 s, the backoff
        // from 100 ms): callers try at most once per cooldown, the background fiber per backoff.
        const bound = attemptBound(9 * minute, (k) => Math.min(5_000, 50 * Math.min(2 ** (k - 1), 600)))
        console.log(
          `refresh: a zero retryBase and crossed windows, source failing, 10 min of gets: ${fetches} fetches (bound ${bound})`
        )
        const adjusted = lines.find((line) => line.message.startsWith("refresh policy adjusted"))
        assert.isDefined(adjusted)
        for (const key of ["mandatoryWindow", "retryBase", "minimumRefreshInterval"]) assert.include(adjusted!.message, key)
        assert.strictEqual(failed, 0)
        assert.isAtMost(fetches, bound)
      })
    ))
})
