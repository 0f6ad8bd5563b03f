/**
 * The refresh engine's decisions as tables: `decide` (the answer to a `get`), `afterFailedWait`,
 * `dueAt` (the background fiber's next fetch) and the transitions, on plain states, with no
 * clock and no fibers. The TestClock suites (Refresh.test.ts, Refresh.robustness.test.ts) check
 * the shell that carries them out. The default policy throughout: advisory 15 min, mandatory
 * 10 min, jitter 30 s, retry 1 s doubled up to 60 s, cooldown 5 s, minimum interval 15 s.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Credentials from "../src/Credentials.js"
import { CredentialsError } from "../src/CredentialsError.js"
import * as Refresh from "../src/internal/refreshDecision.js"
import * as RefreshPolicy from "../src/internal/refreshPolicy.js"

const { tuning } = RefreshPolicy.tuningFor(RefreshPolicy.defaults)
const second = 1_000
const minute = 60 * second
const hour = 60 * minute

type State = Refresh.State<string>

const credentials = (expiresAt: number | undefined): Credentials.Credentials =>
  Credentials.make({
    accessKeyId: "AKIADECIDE",
    secretAccessKey: "decide-secret",
    source: "env",
    ...(expiresAt === undefined ? {} : { expiration: new Date(expiresAt) })
  })

const sourceDown = new CredentialsError({ source: "env", reason: "InvalidResponse", detail: "the source is down" })

/**
 * 1-hour credentials fetched at 0 (jitter draw 0.5): advisory at 45 min, refresh at 45 min 15 s,
 * mandatory at 50 min, expiry at 60 min.
 */
const hourly: State = Refresh.onSuccess(credentials(hour), 0, tuning, 0.5)
/** The same after `failures` failed attempts, the last one at `at`, the next allowed at `retryAt`. */
const failing = (failures: number, at: number, retryAt: number, base: State = hourly): State => ({
  ...base,
  failures,
  lastAttemptAt: at,
  nextRetryAt: retryAt,
  lastError: sourceDown
})
/** Credentials without an expiry (static keys). */
const static_: State = Refresh.onSuccess(credentials(undefined), 0, tuning, 0.5)
/** Credentials that live 1 s, fetched at 0: expired long before the source may be asked again (15 s). */
const oneSecond: State = Refresh.onSuccess(credentials(second), 0, tuning, 0.5)

const serve: Refresh.Decision = { _tag: "Serve", stale: false }
const serveStale: Refresh.Decision = { _tag: "Serve", stale: true }
const serveAndRefresh: Refresh.Decision = { _tag: "ServeAndRefresh" }
const wait: Refresh.Decision = { _tag: "Wait" }
const fail: Refresh.Decision = { _tag: "Fail", error: sourceDown }

describe("refresh decision: the schedule of fresh credentials", () => {
  it("1-hour credentials: advisory at 45 min (+ jitter), mandatory at 50 min", () => {
    assert.deepStrictEqual(
      [hourly.advisoryAt, hourly.refreshAt, hourly.mandatoryAt, hourly.expiresAt],
      [45 * minute, 45 * minute + 15 * second, 50 * minute, hour]
    )
    assert.deepStrictEqual([hourly.failures, hourly.nextRetryAt, hourly.lastAttemptAt], [0, 0, 0])
    assert.isFalse(hourly.invalidated)
    assert.isUndefined(hourly.lastError)
  })

  it("credentials living shorter than the windows: half and three quarters of their life, never sooner than 15 s", () => {
    const fourMinutes = Refresh.onSuccess(credentials(4 * minute), 0, tuning, 0)
    assert.deepStrictEqual([fourMinutes.advisoryAt, fourMinutes.mandatoryAt], [2 * minute, 3 * minute])
    assert.deepStrictEqual([oneSecond.advisoryAt, oneSecond.mandatoryAt, oneSecond.refreshAt], [second, second, 15 * second])
  })

  it("credentials without an expiry have no moment at all", () => {
    assert.deepStrictEqual(
      [static_.expiresAt, static_.advisoryAt, static_.mandatoryAt, static_.refreshAt],
      [Infinity, Infinity, Infinity, Infinity]
    )
  })
})

describe("refresh decision: decide (the answer to a get)", () => {
  const rows: ReadonlyArray<{ readonly name: string; readonly state: State; readonly now: number; readonly expected: Refresh.Decision }> = [
    { name: "fresh credentials are served", state: hourly, now: 10 * minute, expected: serve },
    { name: "the advisory window before the refresh moment: served", state: hourly, now: 45 * minute + 10 * second, expected: serve },
    {
      name: "the advisory window, fiber idle and due: served, and a refresh started in the background",
      state: hourly,
      now: 46 * minute,
      expected: serveAndRefresh
    },
    {
      name: "the advisory window with a refresh in flight: served, no second one",
      state: { ...hourly, inflight: "fetch" },
      now: 46 * minute,
      expected: serve
    },
    {
      name: "the advisory window after a failure, backoff not yet elapsed: served, no nudge",
      state: failing(1, 46 * minute, 46 * minute + 800),
      now: 46 * minute + 500,
      expected: serve
    },
    {
      name: "the advisory window after a failure, backoff elapsed: served, and a retry started",
      state: failing(1, 46 * minute, 46 * minute + 800),
      now: 46 * minute + 900,
      expected: serveAndRefresh
    },
    { name: "the mandatory window: wait for a refresh", state: hourly, now: 55 * minute, expected: wait },
    {
      name: "the mandatory window with a refresh in flight: wait for it",
      state: { ...hourly, inflight: "fetch" },
      now: 55 * minute,
      expected: wait
    },
    {
      name: "a forced refresh in flight (an invalidation): wait for it, even before the advisory moment",
      state: { ...hourly, inflight: "fetch", forced: true },
      now: 10 * minute,
      expected: wait
    },
    {
      name: "the mandatory window, the last attempt failed within the cooldown: served stale at once",
      state: failing(2, 55 * minute, 55 * minute + 2 * second),
      now: 55 * minute + 4 * second,
      expected: serveStale
    },
    {
      name: "the mandatory window, the last attempt failed a cooldown ago: wait for a new one",
      state: failing(2, 55 * minute, 55 * minute + 2 * second),
      now: 55 * minute + 5 * second,
      expected: wait
    },
    {
      name: "expired, source not failing: wait for a refresh",
      state: { ...hourly, lastAttemptAt: 0 },
      now: hour,
      expected: wait
    },
    {
      name: "expired less than the minimum interval after the fetch: not asked again until then",
      state: oneSecond,
      now: 2 * second,
      expected: { _tag: "NotYet", askAgainAt: 15 * second }
    },
    { name: "expired, the minimum interval has passed: wait for a refresh", state: oneSecond, now: 15 * second, expected: wait },
    {
      name: "expired, source failing, backoff not elapsed (cooldown is): the last error at once",
      state: failing(3, hour, hour + 8 * second),
      now: hour + 6 * second,
      expected: fail
    },
    {
      name: "expired, source failing, backoff elapsed but not the cooldown: the last error at once",
      state: failing(1, hour, hour + 800),
      now: hour + 2 * second,
      expected: fail
    },
    {
      name: "expired, source failing, backoff and cooldown elapsed: wait for a new attempt",
      state: failing(1, hour, hour + 800),
      now: hour + 5 * second,
      expected: wait
    },
    {
      name: "expired, source failing, a refresh in flight: wait for it",
      state: { ...failing(1, hour, hour + 800), inflight: "fetch" },
      now: hour + second,
      expected: wait
    },
    {
      name: "invalidated, source not failing: wait for a refresh, however recent the fetch",
      state: { ...oneSecond, invalidated: true },
      now: 500,
      expected: wait
    },
    {
      name: "invalidated, source failing, no attempt allowed yet: the last error, never the refused credentials",
      state: { ...failing(1, 10 * minute, 10 * minute + 800), invalidated: true },
      now: 10 * minute + second,
      expected: fail
    },
    {
      name: "invalidated, source failing, an attempt allowed: wait for it",
      state: { ...failing(1, 10 * minute, 10 * minute + 800), invalidated: true },
      now: 10 * minute + 5 * second,
      expected: wait
    },
    {
      name: "invalidated with a refresh in flight: wait for it",
      state: { ...hourly, invalidated: true, forced: true, inflight: "fetch" },
      now: 10 * minute,
      expected: wait
    },
    { name: "static credentials: served, whenever", state: static_, now: 1_000 * hour, expected: serve },
    {
      name: "static credentials after a failure: served (they never expire)",
      state: failing(4, hour, hour + 8 * second, static_),
      now: hour + second,
      expected: serve
    },
    {
      name: "static credentials, invalidated: wait for a refresh",
      state: { ...static_, invalidated: true },
      now: hour,
      expected: wait
    }
  ]
  for (const row of rows) {
    it(row.name, () => {
      assert.deepStrictEqual(Refresh.decide(row.state, row.now, tuning), row.expected)
    })
  }
})

describe("refresh decision: afterFailedWait (a get whose refresh failed)", () => {
  const other = new CredentialsError({ source: "env", reason: "Expired", detail: "refused" })
  const rows: ReadonlyArray<{ readonly name: string; readonly state: State; readonly now: number; readonly expected: Refresh.Decision }> = [
    { name: "still valid: served stale", state: hourly, now: 55 * minute, expected: serveStale },
    { name: "expired: the refresh error", state: hourly, now: hour, expected: { _tag: "Fail", error: other } },
    {
      name: "invalidated: the refresh error, even though still valid",
      state: { ...hourly, invalidated: true },
      now: 10 * minute,
      expected: { _tag: "Fail", error: other }
    },
    { name: "static: served stale", state: static_, now: hour, expected: serveStale }
  ]
  for (const row of rows) {
    it(row.name, () => {
      assert.deepStrictEqual(Refresh.afterFailedWait(row.state, row.now, other), row.expected)
    })
  }
})

describe("refresh decision: dueAt (when the background fiber fetches)", () => {
  it("the refresh moment; after a failure, the retry time; never for static credentials", () => {
    assert.strictEqual(Refresh.dueAt(hourly), 45 * minute + 15 * second)
    assert.strictEqual(Refresh.dueAt(failing(2, 46 * minute, 46 * minute + 1_500)), 46 * minute + 1_500)
    assert.strictEqual(Refresh.dueAt(static_), Infinity)
    assert.strictEqual(Refresh.dueAt(failing(2, hour, hour + 1_500, static_)), Infinity)
  })
})

describe("refresh decision: transitions", () => {
  it("onFailure keeps the credentials and their moments, counts the failure and backs off", () => {
    const flying: State = { ...hourly, inflight: "fetch", forced: true }
    const once = Refresh.onFailure(flying, sourceDown, 46 * minute, tuning, 0)
    assert.strictEqual(once.current, hourly.current)
    assert.deepStrictEqual(
      [once.failures, once.nextRetryAt, once.lastAttemptAt, once.inflight, once.forced, once.advisoryAt],
      [1, 46 * minute + 500, 46 * minute, undefined, false, hourly.advisoryAt]
    )
    assert.strictEqual(once.lastError, sourceDown)
    const thrice = Refresh.onFailure(Refresh.onFailure(once, sourceDown, 47 * minute, tuning, 0), sourceDown, 48 * minute, tuning, 0)
    assert.deepStrictEqual([thrice.failures, thrice.nextRetryAt], [3, 48 * minute + 2_000])
  })

  it("backoff: 1 s doubled per failure, at most 60 s, jittered to 50-100 %", () => {
    const table: ReadonlyArray<readonly [failures: number, random: number, wait: number]> = [
      [1, 0, 500],
      [1, 0.999, 1_000],
      [2, 0, 1_000],
      [4, 0.5, 6_000],
      [7, 0, 30_000],
      [8, 0, 30_000],
      [100, 0.999, 59_970]
    ]
    for (const [failures, random, expected] of table) {
      assert.strictEqual(Refresh.backoff(failures, tuning, random), expected, `failure ${failures}, draw ${random}`)
    }
  })

  it("onSuccess after failures starts afresh: no failure, no error, new moments, not invalidated", () => {
    const fresh = Refresh.onSuccess<string>(credentials(2 * hour), hour, tuning, 0)
    assert.deepStrictEqual(
      [fresh.failures, fresh.lastError, fresh.invalidated, fresh.inflight, fresh.forced, fresh.lastAttemptAt],
      [0, undefined, false, undefined, false, hour]
    )
    assert.deepStrictEqual([fresh.advisoryAt, fresh.mandatoryAt], [hour + 45 * minute, hour + 50 * minute])
  })

  it("onStart makes the candidate the fetch in flight, or joins the one there (raising forced, never lowering it)", () => {
    const seen = (started: ReturnType<typeof Refresh.onStart<string>>) =>
      [started.flight, started.created, started.state.inflight, started.state.forced] as const
    const started = Refresh.onStart(hourly, "first", false)
    assert.deepStrictEqual(seen(started), ["first", true, "first", false])
    const joined = Refresh.onStart(started.state, "second", true)
    assert.deepStrictEqual(seen(joined), ["first", false, "first", true])
    assert.deepStrictEqual(seen(Refresh.onStart(joined.state, "third", false)), ["first", false, "first", true])
  })

  it("onInterrupt clears the fetch in flight and keeps everything else", () => {
    const flying: State = { ...failing(1, hour, hour + 800), inflight: "fetch", forced: true }
    assert.deepStrictEqual(Refresh.onInterrupt(flying), { ...flying, inflight: undefined, forced: false })
  })

  it("onInvalidate: a fetch in flight answers it; one that succeeded within the cooldown too; else the credentials are refused", () => {
    const flying: State = { ...hourly, inflight: "fetch" }
    assert.deepStrictEqual(Refresh.onInvalidate(flying, 10 * minute, tuning), { ...flying, forced: true, invalidated: true })
    assert.strictEqual(Refresh.onInvalidate(hourly, 4 * second, tuning), hourly, "within the cooldown after a success")
    assert.deepStrictEqual(Refresh.onInvalidate(hourly, 5 * second, tuning), { ...hourly, invalidated: true })
    const recentFailure = failing(1, 10 * minute, 10 * minute + 800)
    assert.deepStrictEqual(
      Refresh.onInvalidate(recentFailure, 10 * minute + second, tuning),
      { ...recentFailure, invalidated: true },
      "a failure within the cooldown does not make the credentials fresh"
    )
  })
})

describe("refresh policy: check and the engine's floors", () => {
  it("the mandatory window follows a window given alone; a larger one given with the advisory one is lowered, said so", () => {
    const alone = RefreshPolicy.check({ mandatoryWindow: "20 minutes" })
    assert.deepStrictEqual([alone.policy.advisoryWindow, alone.policy.mandatoryWindow].map(Duration.toMinutes), [20, 20])
    assert.deepStrictEqual(alone.problems, [])
    const crossed = RefreshPolicy.check({ advisoryWindow: "5 minutes", mandatoryWindow: "10 minutes" })
    assert.strictEqual(Duration.toMinutes(crossed.policy.mandatoryWindow), 5)
    assert.deepStrictEqual(crossed.problems, ["mandatoryWindow 10m is larger than advisoryWindow 5m; using 5m for both"])
  })

  it("unusable values keep their defaults; the floors apply on top, every change listed", () => {
    const { adjusted, tuning: floored } = RefreshPolicy.tuningFor({
      jitter: Number.NaN,
      retryBase: 0,
      retryMax: 50,
      minimumRefreshInterval: "10 millis"
    })
    assert.deepStrictEqual(
      [floored.jitter, floored.retryBase, floored.retryMax, floored.minimumRefreshInterval],
      [30_000, 100, 100, 1_000]
    )
    assert.strictEqual(adjusted.length, 4)
    assert.include(adjusted[0], "jitter: NaN is not a usable duration")
    assert.deepStrictEqual(adjusted.slice(1), [
      "retryBase (0 ms) is below 100 ms; using 100 ms",
      "retryMax (50 ms) is below retryBase; using 100 ms",
      "minimumRefreshInterval (10 ms) is below 1000 ms; using 1000 ms"
    ])
  })
})
