/**
 * The fast path: `unsafeCurrent` (and `toAwsSdkProvider`, which calls it) answers without a fiber
 * only what `get` would serve at once with nothing else to do. It is a pure read of the engine's
 * state at the time it is given, so the tests ask it about moments ahead of the `TestClock`
 * (before the background fiber has acted) as well as at the clock's time; the fetch counts show
 * that it never starts, skips or replaces a fetch.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Ref from "effect/Ref"
import * as TestClock from "effect/TestClock"
import * as AwsCredentials from "../src/AwsCredentials.js"
import * as Credentials from "../src/Credentials.js"
import * as CredentialsCache from "../src/CredentialsCache.js"
import type { CredentialsError } from "../src/CredentialsError.js"
import { fakeSource, minute, serviceOf, start } from "./support/refreshSource.js"

const staleCount = Effect.map(
  Metric.value(CredentialsCache.servedStale.pipe(Metric.tagged("source", "custom-process"))),
  (state) => state.count
)

const call = (provider: (options?: { readonly forceRefresh?: boolean }) => Promise<AwsCredentials.AwsSdkIdentity>) =>
  Effect.promise(() => provider().then((identity) => ({ identity }), (error: CredentialsError) => ({ error })))

describe("refresh engine: the fast path (unsafeCurrent)", () => {
  it.scoped("serves exactly what get serves while the credentials are fresh, and fetches nothing", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(start)
      const source = yield* fakeSource("1 hour")
      const service = yield* serviceOf(source.layer)
      const unsafeCurrent = service.unsafeCurrent!
      yield* TestClock.adjust("10 minutes")
      const now = yield* Clock.currentTimeMillis
      const fast = unsafeCurrent(now)
      assert.isDefined(fast)
      assert.strictEqual(fast, yield* service.get, "the same credentials, the same object")
      // Up to the advisory moment (45 minutes after the fetch), without moving the clock.
      assert.strictEqual(unsafeCurrent(start + 44 * minute), fast)
      assert.strictEqual(yield* Ref.get(source.fetches), 1)
    }))

  it.scoped("does not serve when a refresh is due, in the mandatory window, or once expired", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(start)
      const source = yield* fakeSource("1 hour")
      const service = yield* serviceOf(source.layer)
      const unsafeCurrent = service.unsafeCurrent!
      // Past the refresh moment (45 min plus at most 30 s of jitter) with the background fiber
      // still asleep: `get` would serve and nudge the refresh, so the fast path leaves it to `get`.
      assert.isUndefined(unsafeCurrent(start + 46 * minute))
      // The mandatory window (from 50 min): callers wait for a refresh.
      assert.isUndefined(unsafeCurrent(start + 51 * minute))
      // Expired.
      assert.isUndefined(unsafeCurrent(start + 61 * minute))
      assert.strictEqual(yield* Ref.get(source.fetches), 1, "asking is not fetching")
      // Once the background refresh has run, the new credentials are served again.
      yield* TestClock.adjust("46 minutes")
      assert.strictEqual(yield* Ref.get(source.fetches), 2)
      const now = yield* Clock.currentTimeMillis
      assert.strictEqual(unsafeCurrent(now)?.accessKeyId, "AKIAFETCH2")
      assert.strictEqual(unsafeCurrent(now), yield* service.get)
    }))

  it.scoped("does not serve invalidated credentials; get fetches, then the new ones are served", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(start)
      const source = yield* fakeSource("1 hour")
      const service = yield* serviceOf(source.layer)
      const unsafeCurrent = service.unsafeCurrent!
      yield* TestClock.adjust("1 minute") // past the invalidation cooldown
      yield* service.invalidate
      const now = yield* Clock.currentTimeMillis
      assert.isUndefined(unsafeCurrent(now))
      assert.strictEqual(yield* Ref.get(source.fetches), 1)
      const fresh = yield* service.get
      assert.strictEqual(fresh.accessKeyId, "AKIAFETCH2")
      assert.strictEqual(yield* Ref.get(source.fetches), 2)
      assert.strictEqual(unsafeCurrent(now), fresh)
    }))

  it.scoped("a refresh in flight: served while get would not wait (background), not once callers wait", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(start)
      const source = yield* fakeSource("1 hour")
      const service = yield* serviceOf(source.layer)
      const unsafeCurrent = service.unsafeCurrent!
      const gate = yield* Deferred.make<void>()
      yield* Ref.set(source.gate, gate)
      // The background refresh starts (by 45.5 min) and hangs on the gate: `get` serves at once.
      yield* TestClock.adjust("46 minutes")
      assert.strictEqual(yield* Ref.get(source.fetches), 2)
      const now = yield* Clock.currentTimeMillis
      assert.strictEqual(unsafeCurrent(now)?.accessKeyId, "AKIAFETCH1")
      assert.strictEqual(unsafeCurrent(now), yield* service.get)
      // An invalidation makes callers wait for that refresh: no longer served.
      yield* service.invalidate
      assert.isUndefined(unsafeCurrent(now))
      const waiting = yield* Effect.fork(service.get)
      yield* Deferred.succeed(gate, undefined)
      assert.strictEqual((yield* Fiber.join(waiting)).accessKeyId, "AKIAFETCH2")
      assert.strictEqual(unsafeCurrent(now)?.accessKeyId, "AKIAFETCH2")
      assert.strictEqual(yield* Ref.get(source.fetches), 2, "one fetch for all of it")
    }))
})

describe("toAwsSdkProvider and the fast path", () => {
  it.scoped("a cached call fetches nothing and answers what get serves, on the TestClock", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(start)
      const source = yield* fakeSource("1 hour")
      // Every refresh fails: the credentials stay the first ones until they expire.
      yield* Ref.set(source.failing, (n) => n > 1)
      const context = yield* Layer.build(source.layer)
      const provider = yield* Effect.provide(AwsCredentials.toAwsSdkProvider, context)
      yield* TestClock.adjust("10 minutes")
      const first = yield* call(provider)
      assert.strictEqual("identity" in first && first.identity.accessKeyId, "AKIAFETCH1")
      assert.strictEqual(yield* Ref.get(source.fetches), 1)

      // In the mandatory window with the source failing, `get` answers with the stale
      // credentials and counts it; the fast path must not have answered in its place.
      yield* TestClock.adjust("41 minutes")
      const stale = yield* staleCount
      const inWindow = yield* call(provider)
      assert.strictEqual("identity" in inWindow && inWindow.identity.accessKeyId, "AKIAFETCH1")
      assert.strictEqual(yield* staleCount, stale + 1)

      // Expired (by the TestClock, not the wall clock): the provider rejects with the source's error.
      yield* TestClock.adjust("10 minutes")
      const expired = yield* call(provider)
      assert.isTrue("error" in expired)
      assert.strictEqual("error" in expired && expired.error.reason, "ProcessFailed")
    }))

  it.effect("a service without unsafeCurrent is served through get", () =>
    Effect.gen(function*() {
      let calls = 0
      const credentials = Credentials.make({ accessKeyId: "AKIDDOUBLE", secretAccessKey: "s", source: "env" })
      const layer = Layer.succeed(
        AwsCredentials.AwsCredentials,
        AwsCredentials.make({ get: Effect.sync(() => (calls++, credentials)) })
      )
      const provider = yield* AwsCredentials.toAwsSdkProvider.pipe(Effect.provide(layer))
      for (let i = 0; i < 3; i++) {
        const answer = yield* call(provider)
        assert.strictEqual("identity" in answer && answer.identity.accessKeyId, "AKIDDOUBLE")
      }
      assert.strictEqual(calls, 3)
    }))

  it.effect("layerStatic answers from the fast path what get serves", () =>
    Effect.gen(function*() {
      const service = yield* AwsCredentials.AwsCredentials
      assert.strictEqual(service.unsafeCurrent?.(0), yield* service.get)
    }).pipe(Effect.provide(AwsCredentials.layerStatic({ accessKeyId: "AKIDSTATIC", secretAccessKey: "s" }))))
})
