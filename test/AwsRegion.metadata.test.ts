/**
 * Issue 13: the region's metadata link costs one metadata timeout at most, and nothing at all when
 * the session already found the service unreachable (the credential chain's `iam-role` link and
 * the region share what they learn, and when both ask at once, one set of requests goes out).
 *
 * Time is the `TestClock`'s: a lookup is forked against a loopback server, the test waits (in
 * real time) for the requests it expects and moves the clock by hand, so the bound is asserted
 * exactly. Requests are counted by what the server saw.
 */
import { assert, describe, it } from "@effect/vitest"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberStatus from "effect/FiberStatus"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as TestClock from "effect/TestClock"
import * as AwsRegion from "../src/AwsRegion.js"
import * as AwsSession from "../src/AwsSession.js"
import {
  current,
  defaultChain,
  type Env,
  getFailure,
  getSuccess,
  platformLayer,
  type TempHome,
  tempHome,
  withCapturedLogs,
  withEnv
} from "./support/fixtures.js"
import { metadataServer, silentServer } from "./support/metadataServer.js"

const endpointEnv = (home: TempHome, url: string, extra: Env = {}): Env =>
  home.env({ AWS_EC2_METADATA_DISABLED: "false", AWS_EC2_METADATA_SERVICE_ENDPOINT: url, ...extra })

/** One session, as a program (or `explain`) builds it once and gives to the chain and the region. */
const sessionOf = (env: Env) =>
  AwsSession.make().pipe(
    Effect.provide(NodeFileSystem.layer),
    withEnv(env),
    Effect.orDie,
    Effect.map((session) => Layer.succeed(AwsSession.AwsSession, session))
  )

/** `AwsRegion.layer` on `session`, with its log lines. */
const regionOn = (session: Layer.Layer<AwsSession.AwsSession>, env: Env) =>
  withCapturedLogs(AwsRegion.AwsRegion.pipe(Effect.provide(AwsRegion.layer.pipe(Layer.provide(session))), withEnv(env)))

/** The default chain on `session`. */
const chainOn = (home: TempHome, session: Layer.Layer<AwsSession.AwsSession>, env: Env) =>
  current.pipe(
    Effect.provide(defaultChain(home).pipe(Layer.provide(session), Layer.provide(platformLayer))),
    withEnv(env),
    Effect.exit
  )

/** Waits in real time (the test clock stands still) until `condition` holds; fails after 5 s. */
const until = (what: string, condition: () => boolean) =>
  Effect.promise(() =>
    new Promise<boolean>((resolve) => {
      const started = Date.now()
      const check = () => {
        if (condition()) return resolve(true)
        if (Date.now() - started > 5_000) return resolve(false)
        setTimeout(check, 5)
      }
      check()
    })
  ).pipe(Effect.flatMap((held) => held ? Effect.void : Effect.dieMessage(`timed out waiting for ${what}`)))

/**
 * Waits in real time until `fiber` is suspended: for a region lookup on a built session, whose
 * first asynchronous step is the metadata link (settings come from `Config`), that is waiting
 * for another lookup's verdict or for its own requests.
 */
const untilSuspended = <A, E>(fiber: Fiber.RuntimeFiber<A, E>) =>
  Effect.gen(function*() {
    for (let i = 0; i < 1_000; i++) {
      if (FiberStatus.isSuspended(yield* Fiber.status(fiber))) return
      yield* Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, 5)))
    }
    return yield* Effect.dieMessage("timed out waiting for the lookup to wait")
  })

/** Lets forked fibers run what the clock's move released (real time, a few event-loop turns). */
const settle = Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, 50)))

const assertRegionNotFound = (exit: Exit.Exit<AwsRegion.Service, AwsRegion.RegionNotFound>) => {
  const error = getFailure(exit)
  assert.strictEqual(error._tag, "RegionNotFound")
  assert.include(error.message, "the instance metadata service")
}

/** Drives a black hole through the token's timeout and the GET's: 1.25 s in all, as the chain pays. */
const throughChainTimeouts = (requests: () => ReadonlyArray<string>) =>
  Effect.gen(function*() {
    yield* until("the token PUT", () => requests().length >= 1)
    yield* TestClock.adjust("250 millis")
    yield* until("the IMDSv1 GET", () => requests().length >= 2)
    yield* TestClock.adjust("1 second")
  })

describe("AwsRegion: the instance metadata link (issue 13)", () => {
  it.effect("alone against a black hole: RegionNotFound after one timeout, one token request and one GET", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const silent = yield* silentServer
      const env = endpointEnv(home, silent.url)
      const region = yield* Effect.fork(regionOn(yield* sessionOf(env), env))
      yield* until("the token PUT", () => silent.requests().length === 1)
      yield* TestClock.adjust("250 millis")
      yield* until("the IMDSv1 GET", () => silent.requests().length === 2)
      assert.deepStrictEqual(silent.requests(), ["PUT /latest/api/token", "GET /latest/meta-data/placement/region"])

      // Just short of the timeout: still waiting.
      yield* TestClock.adjust("749 millis")
      yield* settle
      assert.isTrue(Option.isNone(yield* Fiber.poll(region)))

      // At the timeout (1 s, not 1.25 s: the GET sent 250 ms in gets what is left of it), done.
      yield* TestClock.adjust("1 millis")
      const [exit] = yield* Fiber.join(region)
      assertRegionNotFound(exit)
      yield* settle
      assert.deepStrictEqual(silent.requests(), ["PUT /latest/api/token", "GET /latest/meta-data/placement/region"])
    }).pipe(Effect.scoped))

  it.effect("the chain found the service unreachable: the region in the same session asks nothing", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const silent = yield* silentServer
      const env = endpointEnv(home, silent.url)
      const session = yield* sessionOf(env)
      const chain = yield* Effect.fork(chainOn(home, session, env))
      yield* throughChainTimeouts(silent.requests)
      const chained = getFailure(yield* Fiber.join(chain))
      assert.strictEqual(chained._tag, "NoCredentialsFound")
      const seen = silent.requests()
      assert.deepStrictEqual(seen, ["PUT /latest/api/token", "GET /latest/meta-data/iam/security-credentials/"])

      // No clock move: a lookup that sent a request could not finish.
      const region = yield* Effect.fork(regionOn(session, env))
      yield* settle
      const polled = yield* Fiber.poll(region)
      assert.isTrue(Option.isSome(polled))
      const [exit, lines] = yield* Fiber.join(region)
      assertRegionNotFound(exit)
      assert.deepStrictEqual(silent.requests(), seen)
      assert.isTrue(lines.some((line) => line.message.includes("not asked again")))

      // A minute later the session asks again: an instance whose service had a blip is not locked out.
      yield* TestClock.adjust("1 minute")
      const again = yield* Effect.fork(regionOn(session, env))
      yield* until("the token PUT asked again", () => silent.requests().length === 3)
      yield* Fiber.interrupt(again)
    }).pipe(Effect.scoped))

  it.effect("the region found it first: the chain's iam-role link asks nothing and says why", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const silent = yield* silentServer
      const env = endpointEnv(home, silent.url)
      const session = yield* sessionOf(env)
      const region = yield* Effect.fork(regionOn(session, env))
      yield* until("the token PUT", () => silent.requests().length === 1)
      yield* TestClock.adjust("1 second")
      assertRegionNotFound((yield* Fiber.join(region))[0])
      const seen = silent.requests()
      assert.strictEqual(seen.length, 2)

      const chain = yield* Effect.fork(chainOn(home, session, env))
      const error = getFailure(yield* Fiber.join(chain))
      assert.strictEqual(error._tag, "NoCredentialsFound")
      if (error._tag !== "NoCredentialsFound") return
      const imds = error.attempts.find((attempt) => attempt.source === "iam-role")
      assert.isDefined(imds)
      assert.include(imds!.reason, "did not answer")
      assert.include(imds!.reason, "not asked again")
      assert.deepStrictEqual(silent.requests(), seen)
    }).pipe(Effect.scoped))

  it.effect("the chain and the region at once: one set of requests, the second waits for the first's verdict", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const silent = yield* silentServer
      const env = endpointEnv(home, silent.url)
      const session = yield* sessionOf(env)
      // The chain asks first (as the iam-role link would), the region joins while it waits.
      const chain = yield* Effect.fork(chainOn(home, session, env))
      yield* until("the chain's token PUT", () => silent.requests().length === 1)
      const region = yield* Effect.fork(regionOn(session, env))
      yield* untilSuspended(region)
      yield* throughChainTimeouts(silent.requests)
      const chained = getFailure(yield* Fiber.join(chain))
      assert.strictEqual(chained._tag, "NoCredentialsFound")
      const [exit, lines] = yield* Fiber.join(region)
      assertRegionNotFound(exit)
      assert.isTrue(lines.some((line) => line.message.includes("another lookup of this session at the same time")))
      yield* settle
      assert.deepStrictEqual(silent.requests(), [
        "PUT /latest/api/token",
        "GET /latest/meta-data/iam/security-credentials/"
      ])
    }).pipe(Effect.scoped))

  it.effect("the region asks first and the chain joins: still one set of requests", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const silent = yield* silentServer
      const env = endpointEnv(home, silent.url)
      const session = yield* sessionOf(env)
      const region = yield* Effect.fork(regionOn(session, env))
      yield* until("the region's token PUT", () => silent.requests().length === 1)
      // The chain reads files on its way to the iam-role link: it may reach it while the region
      // asks (and wait) or after (and find the verdict); either way it sends nothing.
      const chain = yield* Effect.fork(chainOn(home, session, env))
      yield* settle
      yield* TestClock.adjust("250 millis")
      yield* until("the IMDSv1 GET", () => silent.requests().length === 2)
      yield* TestClock.adjust("750 millis")
      assertRegionNotFound((yield* Fiber.join(region))[0])
      const chained = getFailure(yield* Fiber.join(chain))
      assert.strictEqual(chained._tag, "NoCredentialsFound")
      yield* settle
      assert.deepStrictEqual(silent.requests(), ["PUT /latest/api/token", "GET /latest/meta-data/placement/region"])
    }).pipe(Effect.scoped))

  it.scoped("a service that answers: the region from it (source imds), after the chain used it too", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const server = yield* metadataServer({ region: "ap-southeast-2" })
      const env = endpointEnv(home, server.url)
      const session = yield* sessionOf(env)
      const resolved = getSuccess(yield* chainOn(home, session, env))
      assert.strictEqual(resolved.credentials.source, "iam-role")
      const [exit] = yield* regionOn(session, env)
      assert.deepStrictEqual(getSuccess(exit), { name: "ap-southeast-2", source: "imds" })
      assert.strictEqual(server.counts.region, 1)
    }))

  it.effect("a hop limit (the token never answers, IMDSv1 does): the region from IMDSv1 within the one timeout", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const server = yield* metadataServer({ region: "sa-east-1" })
      server.fault("token", { _tag: "Hang" })
      const env = endpointEnv(home, server.url)
      const region = yield* Effect.fork(regionOn(yield* sessionOf(env), env))
      yield* until("the token PUT", () => server.counts.token === 1)
      yield* TestClock.adjust("250 millis")
      yield* until("the IMDSv1 GET", () => server.counts.region === 1)
      yield* TestClock.adjust("750 millis")
      const [exit] = yield* Fiber.join(region)
      assert.deepStrictEqual(getSuccess(exit), { name: "sa-east-1", source: "imds" })
      assert.strictEqual(server.counts.token, 1)
    }).pipe(Effect.scoped))

  it.scoped("AWS_EC2_METADATA_DISABLED=true: no request at all", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const silent = yield* silentServer
      const env = endpointEnv(home, silent.url, { AWS_EC2_METADATA_DISABLED: "true" })
      const [exit] = yield* regionOn(yield* sessionOf(env), env)
      assertRegionNotFound(exit)
      yield* settle
      assert.deepStrictEqual(silent.requests(), [])
    }))
})
