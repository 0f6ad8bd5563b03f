/**
 * The refresh engine, driven by an in-memory source on the TestClock: no real waiting, exact
 * fetch counts. Every source layer goes through the same engine (`sourceLayer`). The long
 * simulations run with a seeded `Random` (the engine's jitter), so the counts they print are the
 * same on every run. Misbehaving sources (expired credentials, defects, invalidation while
 * failing, the mandatory window, policy validation) are in Refresh.robustness.test.ts.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as DateTime from "effect/DateTime"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Scope from "effect/Scope"
import * as TestClock from "effect/TestClock"
import type * as Credentials from "../src/Credentials.js"
import * as CredentialsCache from "../src/CredentialsCache.js"
import type { CredentialsError } from "../src/CredentialsError.js"
import { execFile } from "node:child_process"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { withCapturedLogs } from "./support/fixtures.js"
import { callEvery, fakeSource, minute, secret, serviceOf, simulation, start } from "./support/refreshSource.js"
import { recordingTracer } from "./support/spans.js"

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")

const expiresAt = (credentials: Credentials.Credentials): number =>
  Option.match(credentials.expiration, { onNone: () => Number.POSITIVE_INFINITY, onSome: DateTime.toEpochMillis })

describe("refresh engine", () => {
  it.effect("a simulated day of 1-hour credentials: callers never fail, 32 or 33 fetches", () =>
    simulation(
      "day",
      Effect.gen(function*() {
        const source = yield* fakeSource("1 hour")
        const service = yield* serviceOf(source.layer)
        const started = Date.now()
        const { failed, ok } = yield* callEvery(service, "5 seconds", "24 hours")
        const fetches = yield* Ref.get(source.fetches)
        // The design: a refresh at the start of the advisory window (45 min after a fetch) plus
        // up to 30 s of jitter, so one refresh per 45 to 45.5 minutes. After the first fetch,
        // n refreshes with 45 n <= 1440 < 45.5 (n + 1): n is 31 or 32, so 32 or 33 fetches.
        console.log(
          `refresh: 24 h of 1-hour credentials, a get every 5 s: ${ok} gets, ${failed} failed, ${fetches} fetches (bound 32-33), simulated in ${
            Date.now() - started
          } ms`
        )
        assert.strictEqual(ok, 17_280)
        assert.strictEqual(failed, 0)
        assert.isAtLeast(fetches, 32)
        assert.isAtMost(fetches, 33)
      })
    ))

  it.scoped("10,000 concurrent gets at the moment of expiry cause exactly one fetch", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(start)
      const source = yield* fakeSource("1 hour")
      const service = yield* serviceOf(source.layer)
      const gate = yield* Deferred.make<void>()
      yield* Ref.set(source.gate, gate)
      // Straight to the expiry: the background fiber wakes and starts the refresh, which holds.
      yield* TestClock.setTime(start + 60 * minute)
      const storm = yield* Effect.fork(
        Effect.all(Array.from({ length: 10_000 }, () => service.get), { concurrency: "unbounded" })
      )
      yield* Effect.yieldNow()
      yield* Deferred.succeed(gate, undefined)
      const results = yield* Fiber.join(storm)
      const fetches = yield* Ref.get(source.fetches)
      console.log(`refresh: 10,000 concurrent gets at expiry: ${fetches - 1} upstream fetch(es)`)
      assert.strictEqual(fetches, 2, "the initial fetch and one refresh")
      assert.deepStrictEqual(new Set(results.map((c) => c.accessKeyId)), new Set(["AKIAFETCH2"]))
    }))

  it.effect("refreshes failing 30 % of the time over a day: no failed get while credentials were valid", () =>
    simulation(
      "thirty-percent",
      Effect.gen(function*() {
        const source = yield* fakeSource("1 hour")
        // A fixed pseudo-random sequence, so the run is the same every time.
        let seed = 42
        let injected = 0
        yield* Ref.set(source.failing, (n) => {
          if (n === 1) return false
          seed = (seed * 1103515245 + 12345) % 2147483648
          const fail = seed / 2147483648 < 0.3
          if (fail) injected++
          return fail
        })
        const service = yield* serviceOf(source.layer)
        // The latest expiry of any credentials handed out so far: before it, a get must not fail.
        let validUntil = start + 60 * minute
        let failedWhileValid = 0
        const { failed, ok } = yield* callEvery(service, "5 seconds", "24 hours", (now, exit) => {
          if (Exit.isSuccess(exit)) validUntil = Math.max(validUntil, expiresAt(exit.value))
          else if (now < validUntil) failedWhileValid++
        })
        const fetches = yield* Ref.get(source.fetches)
        const stale = source.log.filter((fetch) => fetch.outcome === "failed").length
        console.log(
          `refresh: 30 % failing refreshes over 24 h: ${ok} gets, ${failed} failed, ${fetches} fetches, ${injected} failures injected`
        )
        assert.isAbove(injected, 0, "the source did fail")
        assert.strictEqual(stale, injected)
        assert.strictEqual(failedWhileValid, 0)
        // No run of failures lasted until the credentials expired, so no get failed at all.
        assert.strictEqual(failed, 0)
      })
    ))

  it.effect("an outage longer than the credentials' life: failures only after expiry, with the source's error; recovery at the first success", () =>
    simulation(
      "outage",
      Effect.gen(function*() {
        const source = yield* fakeSource("1 hour")
        const outageFrom = start + 30 * minute
        const outageUntil = start + 150 * minute
        yield* Ref.set(source.failing, (_, now) => now >= outageFrom && now < outageUntil)
        const service = yield* serviceOf(source.layer)
        const calls: Array<{ readonly now: number; readonly exit: Exit.Exit<Credentials.Credentials, CredentialsError> }> =
          []
        const { failed } = yield* callEvery(service, "5 seconds", "4 hours", (now, exit) => {
          calls.push({ now, exit })
        })
        const expiry = start + 60 * minute
        const recovery = source.log.find((fetch) => fetch.at >= outageUntil && fetch.outcome === "ok")
        assert.isDefined(recovery)
        const firstFailure = calls.find((call) => Exit.isFailure(call.exit))
        assert.isDefined(firstFailure)
        console.log(
          `refresh: a 2-hour outage with 1-hour credentials: ${failed} failed gets, the first ${
            (firstFailure!.now - start) / minute
          } min after the start (expiry at 60); recovered by fetch #${recovery!.n}, ${
            (recovery!.at - outageUntil) / 1000
          } s after the outage ended`
        )
        assert.isAbove(failed, 0)
        // Retries are at most a minute apart (retryMax), so recovery follows the outage closely.
        assert.isBelow(recovery!.at, outageUntil + 60_001)
        for (const { exit, now } of calls) {
          if (now < expiry) {
            assert.isTrue(Exit.isSuccess(exit), `no failure while the credentials were valid (at ${now - start} ms)`)
          } else if (now < recovery!.at) {
            const error = Exit.isFailure(exit) ? Cause.failureOption(exit.cause) : Option.none()
            assert.isTrue(Option.isSome(error), `no credentials between expiry and recovery (at ${now - start} ms)`)
            assert.strictEqual(Option.getOrThrow(error).reason, "ProcessFailed")
            assert.match(Option.getOrThrow(error).message, /^custom-process: fetch \d+ failed$/)
          } else {
            assert.isTrue(Exit.isSuccess(exit), `recovered at the first successful refresh (at ${now - start} ms)`)
          }
        }
        const first = calls.find((call) => call.now >= recovery!.at)!
        assert.strictEqual(Exit.isSuccess(first.exit) ? first.exit.value.accessKeyId : "", `AKIAFETCH${recovery!.n}`)
      })
    ))

  it.scoped("the error after expiry is the source's error", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(start)
      const source = yield* fakeSource("1 hour")
      yield* Ref.set(source.failing, (n) => n > 1)
      const service = yield* serviceOf(source.layer)
      yield* TestClock.adjust("59 minutes")
      assert.strictEqual((yield* service.get).accessKeyId, "AKIAFETCH1")
      yield* TestClock.adjust("2 minutes")
      const error = yield* Effect.flip(service.get)
      assert.strictEqual(error.reason, "ProcessFailed")
      assert.include(error.message, "failed")
    }))

  it.scoped("an invalidation storm: 1,000 invalidations and gets cause one fetch", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(start)
      const source = yield* fakeSource("1 hour")
      const service = yield* serviceOf(source.layer)
      yield* TestClock.adjust("1 minute")
      const results = yield* Effect.all(
        Array.from({ length: 1_000 }, () => Effect.zipRight(service.invalidate, service.get)),
        { concurrency: "unbounded" }
      )
      const fetches = yield* Ref.get(source.fetches)
      console.log(`refresh: 1,000 invalidations with gets: ${fetches - 1} upstream fetch(es)`)
      assert.strictEqual(fetches, 2)
      assert.deepStrictEqual(new Set(results.map((c) => c.accessKeyId)), new Set(["AKIAFETCH2"]))
    }))

  it.effect("static credentials (no expiry) are never refreshed", () =>
    simulation(
      "static",
      Effect.gen(function*() {
        const source = yield* fakeSource(undefined)
        const service = yield* serviceOf(source.layer)
        const { failed } = yield* callEvery(service, "10 minutes", "7 days")
        assert.strictEqual(failed, 0)
        assert.strictEqual(yield* Ref.get(source.fetches), 1)
      })
    ))

  it.effect("closing the layer's scope stops the background refresh: no fetch after close", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(start)
      const source = yield* fakeSource("1 hour")
      const scope = yield* Scope.make()
      yield* Layer.buildWithScope(source.layer, scope)
      yield* Scope.close(scope, Exit.void)
      yield* TestClock.adjust("5 hours")
      assert.strictEqual(yield* Ref.get(source.fetches), 1)
    }))

  it.effect("short-lived credentials are refreshed at a fraction of their life, never in a loop", () =>
    simulation(
      "short-lived",
      Effect.gen(function*() {
        const source = yield* fakeSource("4 minutes")
        const service = yield* serviceOf(source.layer)
        const { failed } = yield* callEvery(service, "1 second", "1 hour")
        const fetches = yield* Ref.get(source.fetches)
        // Half-way plus jitter (at most a quarter of the life, and 30 s): one refresh per 120 to
        // 150 s; after the first fetch, n refreshes with 120 n <= 3600 < 150 (n + 1): 24 to 30.
        console.log(
          `refresh: 1 h of 4-minute credentials, a get every second: ${failed} failed, ${fetches} fetches (bound 25-31)`
        )
        assert.strictEqual(failed, 0)
        assert.isAtLeast(fetches, 25)
        assert.isAtMost(fetches, 31)
        const gaps = source.log.slice(1).map((fetch, i) => fetch.at - source.log[i]!.at)
        assert.isAtLeast(Math.min(...gaps), 120_000)
        assert.isAtMost(Math.max(...gaps), 150_000)
      })
    ))

  it.scoped("the windows are configurable: RefreshPolicy", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(start)
      const source = yield* fakeSource("1 hour")
      const service = yield* serviceOf(
        Layer.provide(
          source.layer,
          CredentialsCache.layerPolicy({ advisoryWindow: "5 minutes", mandatoryWindow: "2 minutes", jitter: 0 })
        )
      )
      yield* TestClock.adjust("54 minutes")
      yield* service.get
      assert.strictEqual(yield* Ref.get(source.fetches), 1)
      yield* TestClock.adjust("1 minute")
      yield* Effect.yieldNow()
      assert.strictEqual(yield* Ref.get(source.fetches), 2)
    }))

  it.scoped("a failed refresh logs a warning with source, reason and next attempt, never a secret; counters count", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(start)
      const source = yield* fakeSource("1 hour")
      yield* Ref.set(source.failing, (n) => n === 2)
      const failuresBefore = (yield* Metric.value(
        CredentialsCache.refreshes.pipe(Metric.tagged("source", "custom-process"), Metric.tagged("outcome", "failure"))
      )).count
      const [exit, lines] = yield* withCapturedLogs(
        Effect.gen(function*() {
          const service = yield* serviceOf(source.layer)
          yield* TestClock.adjust("46 minutes")
          yield* TestClock.adjust("2 minutes")
          return yield* service.get
        })
      )
      assert.isTrue(Exit.isSuccess(exit))
      const warnings = lines.filter((line) => line.level._tag === "Warning")
      assert.isAtLeast(warnings.length, 1)
      const warning = warnings[0]!
      assert.strictEqual(warning.annotations.source, "custom-process")
      assert.strictEqual(warning.annotations.reason, "ProcessFailed")
      assert.isNumber(warning.annotations.nextAttemptInMs)
      for (const line of lines) assert.notInclude(line.rendered, secret)
      const failuresAfter = (yield* Metric.value(
        CredentialsCache.refreshes.pipe(Metric.tagged("source", "custom-process"), Metric.tagged("outcome", "failure"))
      )).count
      assert.strictEqual(failuresAfter - failuresBefore, 1)
    }))

  it.effect("a refresh runs in a span with its source and outcome", () =>
    simulation(
      "span",
      Effect.gen(function*() {
        const source = yield* fakeSource("1 hour")
        const { spans, tracer } = recordingTracer()
        yield* Effect.gen(function*() {
          const service = yield* serviceOf(source.layer)
          yield* callEvery(service, "1 minute", "50 minutes")
        }).pipe(Effect.withTracer(tracer))
        const refreshSpans = spans.filter((span) => span.name === "AwsCredentials.refresh")
        assert.strictEqual(refreshSpans.length, 1)
        assert.strictEqual(refreshSpans[0]!.attributes.get("source"), "custom-process")
        assert.strictEqual(refreshSpans[0]!.attributes.get("outcome"), "success")
      })
    ))

  it.live("a program that provides a refreshing layer and ends exits promptly (no timer holds it open)", () =>
    Effect.promise(async () => {
      const started = Date.now()
      const result = await new Promise<{ code: number | null }>((resolve) => {
        const child = execFile(
          path.join(repo, "node_modules", ".bin", "tsx"),
          [path.join(repo, "test", "support", "programs", "refreshing-layer.ts")],
          {
            env: {
              PATH: process.env.PATH,
              AWS_ACCESS_KEY_ID: "AKIAEXIT",
              AWS_SECRET_ACCESS_KEY: "s",
              AWS_CREDENTIAL_EXPIRATION: new Date(Date.now() + 3_600_000).toISOString()
            },
            timeout: 20_000
          },
          (error) => resolve({ code: error === null ? 0 : typeof error.code === "number" ? error.code : -1 })
        )
        void child
      })
      const elapsed = Date.now() - started
      console.log(`refresh: a program with 1-hour credentials and a background refresher ended in ${elapsed} ms`)
      assert.strictEqual(result.code, 0)
      // Far below the refresh moment (45 minutes away): nothing waited for it.
      assert.isBelow(elapsed, 15_000)
    }), { timeout: 30_000 })
})
