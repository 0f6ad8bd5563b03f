/**
 * The refresh engine, driven by an in-memory source on the TestClock: no real waiting, exact
 * fetch counts. Every source layer goes through the same engine (`sourceLayer`).
 */
import { assert, describe, it } from "@effect/vitest"
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Ref from "effect/Ref"
import * as Scope from "effect/Scope"
import * as TestClock from "effect/TestClock"
import { AwsCredentials } from "../src/AwsCredentials.js"
import * as Credentials from "../src/Credentials.js"
import * as CredentialsCache from "../src/CredentialsCache.js"
import { CredentialsError, type CredentialsUnavailable } from "../src/CredentialsError.js"
import { sourceLayer } from "../src/internal/provider.js"
import { execFile } from "node:child_process"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { withCapturedLogs } from "./support/fixtures.js"
import * as ManualClock from "./support/manualClock.js"
import { recordingTracer } from "./support/spans.js"

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")

const start = Date.parse("2030-06-01T00:00:00Z")
const secret = "refreshSecretNeverLogged0000000000000001"

interface FakeSource {
  /** How many times the source was asked. */
  readonly fetches: Ref.Ref<number>
  /** Decides, per fetch number (1-based), whether it fails. */
  readonly failing: Ref.Ref<(n: number, now: number) => boolean>
  /** When set, fetches wait for it (to hold a refresh in flight). */
  readonly gate: Ref.Ref<Deferred.Deferred<void> | undefined>
  readonly layer: Layer.Layer<AwsCredentials, CredentialsUnavailable | CredentialsError>
}

/** A source handing out credentials that live `life` from the moment they are fetched. */
const fakeSource = (life: Duration.DurationInput | undefined) =>
  Effect.gen(function*() {
    const fetches = yield* Ref.make(0)
    const failing = yield* Ref.make<(n: number, now: number) => boolean>(() => false)
    const gate = yield* Ref.make<Deferred.Deferred<void> | undefined>(undefined)
    const resolve = Effect.gen(function*() {
      const n = yield* Ref.updateAndGet(fetches, (k) => k + 1)
      const wait = yield* Ref.get(gate)
      if (wait !== undefined) yield* Deferred.await(wait)
      const now = yield* Clock.currentTimeMillis
      if ((yield* Ref.get(failing))(n, now)) {
        return yield* new CredentialsError({ source: "custom-process", reason: "ProcessFailed", detail: `fetch ${n} failed` })
      }
      return Credentials.make({
        accessKeyId: `AKIAFETCH${n}`,
        secretAccessKey: secret,
        expiration: life === undefined ? undefined : new Date(now + Duration.toMillis(Duration.decode(life))),
        source: "custom-process",
        provenance: "fake"
      })
    })
    return { fetches, failing, gate, layer: sourceLayer("custom-process", resolve) } satisfies FakeSource
  })

/**
 * Calls `get` every `every` for `total` on a manual clock (see support/manualClock.ts),
 * returning how many calls succeeded and failed.
 */
const callEvery = (
  manual: ManualClock.ManualClock,
  service: AwsCredentials["Type"],
  every: Duration.DurationInput,
  total: Duration.DurationInput,
  onFailure?: (now: number) => Effect.Effect<void>
) =>
  Effect.gen(function*() {
    const steps = Math.floor(Duration.toMillis(Duration.decode(total)) / Duration.toMillis(Duration.decode(every)))
    const counts = { ok: 0, failed: 0 }
    for (let i = 0; i < steps; i++) {
      yield* manual.advance(every)
      const exit = yield* Effect.exit(service.get)
      if (Exit.isSuccess(exit)) counts.ok++
      else {
        counts.failed++
        if (onFailure) yield* onFailure(manual.now())
      }
    }
    return counts
  })

/** Runs a simulation on a manual clock starting at `start`. */
const simulate = <A, E>(body: (manual: ManualClock.ManualClock) => Effect.Effect<A, E, Scope.Scope>) =>
  Effect.suspend(() => {
    const manual = ManualClock.make(start)
    return body(manual).pipe(Effect.withClock(manual.clock))
  })

describe("refresh engine", () => {
  it.scoped("a simulated day of 1-hour credentials: callers never fail, 32 or 33 fetches", () =>
    simulate((manual) => Effect.gen(function*() {
      const source = yield* fakeSource("1 hour")
      const service = yield* Layer.build(source.layer).pipe(Effect.map((ctx) => ctx.unsafeMap.get(AwsCredentials.key) as AwsCredentials["Type"]))
      const { failed, ok } = yield* callEvery(manual, service, "5 seconds", "24 hours")
      const fetches = yield* Ref.get(source.fetches)
      // The design: a refresh at the start of the advisory window (45 min after a fetch) plus
      // up to 30 s of jitter, so one fetch per 45 to 45.5 minutes: 1 + floor(1440 / 45.x).
      console.log(`refresh: 24 h of 1-hour credentials, a get every 5 s: ${ok} gets, ${failed} failed, ${fetches} fetches`)
      assert.strictEqual(failed, 0)
      assert.isAtLeast(fetches, 32)
      assert.isAtMost(fetches, 33)
    })))

  it.scoped("10,000 concurrent gets at the moment of expiry cause exactly one fetch", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(start)
      const source = yield* fakeSource("1 hour")
      const context = yield* Layer.build(source.layer)
      const service = context.unsafeMap.get(AwsCredentials.key) as AwsCredentials["Type"]
      const gate = yield* Deferred.make<void>()
      yield* Ref.set(source.gate, gate)
      // Straight to the expiry: the background fiber wakes and starts the refresh, which holds.
      yield* TestClock.setTime(start + 60 * 60_000)
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

  it.scoped("refreshes failing 30 % of the time over a day: no failed get while credentials were valid", () =>
    simulate((manual) => Effect.gen(function*() {
      const source = yield* fakeSource("1 hour")
      // A fixed pseudo-random sequence, so the run is the same every time.
      let seed = 42
      yield* Ref.set(source.failing, (n) => {
        if (n === 1) return false
        seed = (seed * 1103515245 + 12345) % 2147483648
        return seed / 2147483648 < 0.3
      })
      const context = yield* Layer.build(source.layer)
      const service = context.unsafeMap.get(AwsCredentials.key) as AwsCredentials["Type"]
      const { failed, ok } = yield* callEvery(manual, service, "5 seconds", "24 hours")
      const fetches = yield* Ref.get(source.fetches)
      console.log(`refresh: 30 % failing refreshes over 24 h: ${ok} gets, ${failed} failed, ${fetches} fetches`)
      assert.strictEqual(failed, 0)
    })))

  it.scoped("an outage longer than the credentials' life: failures only after expiry, recovery at the first success", () =>
    simulate((manual) => Effect.gen(function*() {
      const source = yield* fakeSource("1 hour")
      const outageFrom = start + 30 * 60_000
      const outageUntil = start + 150 * 60_000
      yield* Ref.set(source.failing, (_, now) => now >= outageFrom && now < outageUntil)
      const context = yield* Layer.build(source.layer)
      const service = context.unsafeMap.get(AwsCredentials.key) as AwsCredentials["Type"]
      let firstFailure = Number.POSITIVE_INFINITY
      let lastFailure = 0
      const { failed } = yield* callEvery(manual, service, "5 seconds", "4 hours", (now) =>
        Effect.sync(() => {
          firstFailure = Math.min(firstFailure, now)
          lastFailure = Math.max(lastFailure, now)
        }))
      const expiry = start + 60 * 60_000
      assert.isAbove(failed, 0)
      assert.isAtLeast(firstFailure, expiry, "no failure while the credentials were valid")
      // Retries are at most a minute apart (retryMax), so recovery follows the outage closely.
      assert.isBelow(lastFailure, outageUntil + 61_000)
      const after = yield* service.get
      assert.notStrictEqual(after.accessKeyId, "AKIAFETCH1")
    })))

  it.scoped("the error after expiry is the source's error", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(start)
      const source = yield* fakeSource("1 hour")
      yield* Ref.set(source.failing, (n) => n > 1)
      const context = yield* Layer.build(source.layer)
      const service = context.unsafeMap.get(AwsCredentials.key) as AwsCredentials["Type"]
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
      const context = yield* Layer.build(source.layer)
      const service = context.unsafeMap.get(AwsCredentials.key) as AwsCredentials["Type"]
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

  it.scoped("static credentials (no expiry) are never refreshed", () =>
    simulate((manual) => Effect.gen(function*() {
      const source = yield* fakeSource(undefined)
      const context = yield* Layer.build(source.layer)
      const service = context.unsafeMap.get(AwsCredentials.key) as AwsCredentials["Type"]
      const { failed } = yield* callEvery(manual, service, "10 minutes", "7 days")
      assert.strictEqual(failed, 0)
      assert.strictEqual(yield* Ref.get(source.fetches), 1)
    })))

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

  it.scoped("short-lived credentials are refreshed at a fraction of their life, never in a loop", () =>
    simulate((manual) => Effect.gen(function*() {
      const source = yield* fakeSource("4 minutes")
      const context = yield* Layer.build(source.layer)
      const service = context.unsafeMap.get(AwsCredentials.key) as AwsCredentials["Type"]
      const { failed } = yield* callEvery(manual, service, "1 second", "1 hour")
      const fetches = yield* Ref.get(source.fetches)
      // Half-way plus jitter (at most a quarter of the life): one fetch per 2 to 3 minutes.
      assert.strictEqual(failed, 0)
      assert.isAtLeast(fetches, 20)
      assert.isAtMost(fetches, 31)
    })))

  it.scoped("the windows are configurable: RefreshPolicy", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(start)
      const source = yield* fakeSource("1 hour")
      const context = yield* Layer.build(
        Layer.provide(source.layer, CredentialsCache.layerPolicy({ advisoryWindow: "5 minutes", mandatoryWindow: "2 minutes", jitter: 0 }))
      )
      const service = context.unsafeMap.get(AwsCredentials.key) as AwsCredentials["Type"]
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
          const context = yield* Layer.build(source.layer)
          const service = context.unsafeMap.get(AwsCredentials.key) as AwsCredentials["Type"]
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

  it.scoped("a refresh runs in a span with its source and outcome", () =>
    simulate((manual) =>
      Effect.gen(function*() {
        const source = yield* fakeSource("1 hour")
        const { spans, tracer } = recordingTracer()
        yield* Effect.gen(function*() {
          const context = yield* Layer.build(source.layer)
          const service = context.unsafeMap.get(AwsCredentials.key) as AwsCredentials["Type"]
          yield* callEvery(manual, service, "1 minute", "50 minutes")
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
