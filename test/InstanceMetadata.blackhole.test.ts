/**
 * Issue 12: a metadata service that accepts connections and never answers costs about one
 * timeout, not the token's timeout and then the IMDSv1 GET's. The first IMDSv1 GET goes out
 * beside the token request once that has been silent for a while (a quarter of the timeout, at
 * most 250 ms); the token still gets its full timeout and wins whenever it comes.
 *
 * Time is the `TestClock`'s: each test forks one fetch against a loopback server, waits (in real
 * time) for the requests it expects to reach the server, and moves the clock by hand, so that
 * "done at 1.25 s, not 2 s" is asserted exactly, whatever the machine's load.
 */
import { assert, describe, it } from "@effect/vitest"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as TestClock from "effect/TestClock"
import * as AwsSession from "../src/AwsSession.js"
import * as ImdsClient from "../src/internal/imdsClient.js"
import * as ImdsSettings from "../src/internal/imdsSettings.js"
import { type Env, tempHome, withCapturedLogs, withEnv } from "./support/fixtures.js"
import { metadataServer, silentServer } from "./support/metadataServer.js"

const endpointEnv = (url: string, extra: Env = {}): Env => ({
  AWS_EC2_METADATA_DISABLED: "false",
  AWS_EC2_METADATA_SERVICE_ENDPOINT: url,
  ...extra
})

/** One credentials fetch with a fresh state, its log lines captured. */
const fetchOnce = (env: Env) =>
  Effect.flatMap(ImdsSettings.makeState, (state) =>
    withCapturedLogs(
      ImdsClient.resolveCredentials({}, state).pipe(
        Effect.provide(AwsSession.layer().pipe(Layer.provide(NodeFileSystem.layer))),
        withEnv(env)
      )
    ))

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

/** Lets the forked fetch run what the clock's move released (real time, a few event-loop turns). */
const settle = Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, 50)))

describe("InstanceMetadata: the IMDSv1 GET beside the token request (issue 12)", () => {
  it.effect("a black hole (accepts, never answers): unavailable after one timeout plus the delay, not two timeouts", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const silent = yield* silentServer
      const fetch = yield* Effect.fork(fetchOnce(home.env(endpointEnv(silent.url))))
      yield* until("the token PUT", () => silent.requests().length === 1)
      assert.deepStrictEqual(silent.requests(), ["PUT /latest/api/token"])

      yield* TestClock.adjust("250 millis")
      yield* until("the IMDSv1 GET", () => silent.requests().length === 2)
      assert.deepStrictEqual(silent.requests(), [
        "PUT /latest/api/token",
        "GET /latest/meta-data/iam/security-credentials/"
      ])

      // The token's full timeout passes: the GET, sent 250 ms in, still has its own to run.
      yield* TestClock.adjust("750 millis")
      yield* settle
      assert.isTrue(Option.isNone(yield* Fiber.poll(fetch)))

      // 1.25 s in all: where botocore (and the sequential design) needs 2 s.
      yield* TestClock.adjust("250 millis")
      const [exit] = yield* Fiber.join(fetch)
      assert.isTrue(exit._tag === "Failure")
      const outcome = yield* Effect.either(exit)
      assert.isTrue(Either.isLeft(outcome))
      if (Either.isRight(outcome)) return
      assert.strictEqual(outcome.left._tag, "CredentialsUnavailable")
      assert.include(outcome.left.message, "PUT")
      assert.include(outcome.left.message, "no response within 1s")
      assert.strictEqual(silent.requests().length, 2)
    }).pipe(Effect.scoped))

  it.effect("a hop limit (the token PUT never answers, IMDSv1 does): IMDSv1 credentials at the token's timeout, with the warning", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const server = yield* metadataServer()
      server.fault("token", { _tag: "Hang" })
      const fetch = yield* Effect.fork(fetchOnce(home.env(endpointEnv(server.url))))
      yield* until("the token PUT", () => server.counts.token === 1)
      yield* TestClock.adjust("250 millis")
      yield* until("the IMDSv1 listing", () => server.counts.roleList === 1)
      // The listing answered, but IMDSv2 is preferred: the token keeps its full timeout.
      yield* settle
      assert.isTrue(Option.isNone(yield* Fiber.poll(fetch)))
      assert.strictEqual(server.counts.roleCredentials, 0)

      yield* TestClock.adjust("750 millis")
      const [exit, lines] = yield* Fiber.join(fetch)
      assert.isTrue(exit._tag === "Success")
      if (exit._tag !== "Success") return
      assert.include(exit.value.provenance, "IMDSv1")
      const gets = server.requests.filter((r) => r.method === "GET")
      assert.deepStrictEqual(gets.map((r) => r.route), ["roleList", "roleCredentials"])
      for (const get of gets) assert.isUndefined(get.headers["x-aws-ec2-metadata-token"])
      assert.strictEqual(server.counts.token, 1)
      const warning = lines.find((line) => line.level === LogLevel.Warning)
      assert.isDefined(warning)
      assert.include(warning!.message, "hop limit")
    }).pipe(Effect.scoped))

  it.effect("a slow token (after the GET went out) still wins: IMDSv2 credentials, the tokenless answer ignored", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const server = yield* metadataServer()
      server.fault("token", { _tag: "Slow", delayMs: 300 }, 1)
      const fetch = yield* Effect.fork(fetchOnce(home.env(endpointEnv(server.url))))
      yield* until("the token PUT", () => server.counts.token === 1)
      yield* TestClock.adjust("250 millis")
      const [exit, lines] = yield* Fiber.join(fetch)
      assert.isTrue(exit._tag === "Success")
      if (exit._tag !== "Success") return
      assert.include(exit.value.provenance, "IMDSv2")
      const credentialGets = server.requests.filter((r) => r.route === "roleCredentials")
      assert.strictEqual(credentialGets.length, 1)
      assert.strictEqual(credentialGets[0]!.headers["x-aws-ec2-metadata-token"], server.tokens[0])
      // The listing was asked without a token (beside the slow PUT), then again with the token.
      const listings = server.requests.filter((r) => r.route === "roleList")
      assert.deepStrictEqual(listings.map((r) => r.headers["x-aws-ec2-metadata-token"]), [undefined, server.tokens[0]])
      assert.isUndefined(lines.find((line) => line.level === LogLevel.Warning))
    }).pipe(Effect.scoped))

  it.effect("a healthy service: no tokenless GET at all", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const server = yield* metadataServer()
      const [exit] = yield* fetchOnce(home.env(endpointEnv(server.url)))
      assert.isTrue(exit._tag === "Success")
      const gets = server.requests.filter((r) => r.method === "GET")
      assert.strictEqual(gets.length, 2)
      for (const get of gets) assert.strictEqual(get.headers["x-aws-ec2-metadata-token"], server.tokens[0])
    }).pipe(Effect.scoped))

  it.effect("IMDSv1 disabled: no GET beside the token request, and never the credentials paths without a token", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const server = yield* metadataServer()
      server.fault("token", { _tag: "Hang" })
      const fetch = yield* Effect.fork(
        fetchOnce(home.env(endpointEnv(server.url, { AWS_EC2_METADATA_V1_DISABLED: "true" })))
      )
      yield* until("the token PUT", () => server.counts.token === 1)
      yield* TestClock.adjust("250 millis")
      yield* settle
      yield* TestClock.adjust("500 millis")
      yield* settle
      assert.deepStrictEqual(server.requests.map((r) => r.method), ["PUT"])

      // At the token's timeout, only the diagnosis of before: one GET of /latest/meta-data/.
      yield* TestClock.adjust("250 millis")
      const [exit] = yield* Fiber.join(fetch)
      const outcome = yield* Effect.either(exit)
      assert.isTrue(Either.isLeft(outcome))
      if (Either.isRight(outcome)) return
      assert.strictEqual(outcome.left._tag, "CredentialsError")
      assert.include(outcome.left.message, "hop limit")
      assert.deepStrictEqual(server.requests.map((r) => `${r.method} ${r.route}`), ["PUT token", "GET metadata"])
      assert.strictEqual(server.counts.roleList + server.counts.roleCredentials, 0)
    }).pipe(Effect.scoped))
})
