/**
 * `S3.layer` (the SDK-backed service) against a loopback fake that a test scripts: credentials
 * asked for on every request, the retry after `ExpiredToken` / `InvalidToken`, retries of
 * throttling and 5xx and none of 4xx, timeouts and idle bodies, bodies released with their
 * scope, the client closed with the layer, secrets scrubbed from server text, `DeleteObjects`
 * batches and per-key failures, what `compat` changes on the wire, presigned URL clamping on a
 * test clock, and where the endpoint comes from.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import * as crypto from "node:crypto"
import * as net from "node:net"
import * as AwsCredentials from "../src/AwsCredentials.js"
import * as AwsRegion from "../src/AwsRegion.js"
import * as AwsSession from "../src/AwsSession.js"
import * as Credentials from "../src/Credentials.js"
import { CredentialsError } from "../src/CredentialsError.js"
import * as S3 from "../src/S3.js"
import { getFailure, getSuccess, platformLayer, type TempHome, tempHome, withEnv } from "./support/fixtures.js"
import {
  deleteKeys,
  deleteResultXml,
  type FakeS3,
  fakeS3,
  listBucketsXml,
  replyError,
  replyOk
} from "./support/s3Server.js"
import { assertNoSecrets } from "./support/secrets.js"
import { s3ErrorOf } from "./support/s3Errors.js"

const region = AwsRegion.layerStatic("us-east-1")

/** `S3.layer` on the fake, with no environment but what the test gives. */
const s3On = (
  fake: FakeS3,
  credentials: Layer.Layer<AwsCredentials.AwsCredentials>,
  options: S3.Options = {}
): Layer.Layer<S3.S3, S3.S3Error> =>
  S3.layer({ endpoint: fake.url, forcePathStyle: true, maxAttempts: 1, ...options }).pipe(
    Layer.provide(Layer.merge(credentials, region))
  )

const run = <A, E>(
  layer: Layer.Layer<S3.S3, S3.S3Error>,
  use: (s3: S3.Service) => Effect.Effect<A, E>
): Effect.Effect<Exit.Exit<A, E | S3.S3Error>> =>
  Effect.flatMap(S3.S3, use).pipe(Effect.provide(layer), withEnv({}), Effect.exit)

/** Credentials whose generation goes up on `invalidate` (or `rotate`), counting calls. */
const rotating = () => {
  let generation = 1
  let gets = 0
  let invalidations = 0
  const secretOf = (g: number) => `secret-generation-${g}-000000000000000`
  const tokenOf = (g: number) => `token-generation-${g}-00000000000000000`
  const layer = Layer.succeed(
    AwsCredentials.AwsCredentials,
    AwsCredentials.make({
      get: Effect.sync(() => {
        gets++
        return Credentials.make({
          accessKeyId: `AKIDGEN${generation}`,
          secretAccessKey: secretOf(generation),
          sessionToken: tokenOf(generation),
          source: "explicit"
        })
      }),
      invalidate: Effect.sync(() => {
        invalidations++
        generation++
      })
    })
  )
  return {
    layer,
    rotate: () => {
      generation++
    },
    gets: () => gets,
    invalidations: () => invalidations,
    secrets: () => Array.from({ length: generation }, (_, i) => [secretOf(i + 1), tokenOf(i + 1)]).flat()
  }
}

const staticKeys = AwsCredentials.layerStatic({ accessKeyId: "AKIDSTATIC", secretAccessKey: "static-secret-000000000000" })

describe("S3.layer: credentials on every request", () => {
  it.scopedLive("each request signs with what AwsCredentials serves at that moment; the client is not rebuilt", () =>
    Effect.gen(function*() {
      const fake = yield* fakeS3
      fake.handle((_request, response) => replyOk(response, listBucketsXml(["b"])))
      const credentials = rotating()
      const exit = yield* run(s3On(fake, credentials.layer), (s3) =>
        Effect.gen(function*() {
          yield* s3.listBuckets
          credentials.rotate()
          yield* s3.listBuckets
          yield* s3.listBuckets
        }))
      getSuccess(exit)
      assert.deepStrictEqual(fake.requests.map((r) => r.accessKeyId), ["AKIDGEN1", "AKIDGEN2", "AKIDGEN2"])
      assert.deepStrictEqual(fake.requests.map((r) => r.sessionToken), [
        "token-generation-1-00000000000000000",
        "token-generation-2-00000000000000000",
        "token-generation-2-00000000000000000"
      ])
      assert.isAtLeast(credentials.gets(), 3)
    }))

  for (const code of ["ExpiredToken", "InvalidToken"]) {
    it.scopedLive(`${code}: the credentials are invalidated and the request made once more with the fresh ones`, () =>
      Effect.gen(function*() {
        const fake = yield* fakeS3
        fake.handle((request, response) =>
          request.accessKeyId === "AKIDGEN1"
            ? replyError(response, 400, code, "The provided token has expired.")
            : replyOk(response, listBucketsXml(["fresh"]))
        )
        const credentials = rotating()
        const buckets = getSuccess(yield* run(s3On(fake, credentials.layer), (s3) => s3.listBuckets))
        assert.deepStrictEqual(buckets.map((b) => b.name), ["fresh"])
        assert.deepStrictEqual(fake.requests.map((r) => r.accessKeyId), ["AKIDGEN1", "AKIDGEN2"])
        assert.strictEqual(credentials.invalidations(), 1)
      }))
  }

  it.scopedLive("ExpiredToken again after the retry: reason ExpiredToken, two requests, one invalidation", () =>
    Effect.gen(function*() {
      const fake = yield* fakeS3
      fake.handle((_request, response) => replyError(response, 400, "ExpiredToken", "The provided token has expired."))
      const credentials = rotating()
      const error = s3ErrorOf(getFailure(yield* run(s3On(fake, credentials.layer, { maxAttempts: 3 }), (s3) => s3.listBuckets)))
      assert.strictEqual(error.reason, "ExpiredToken")
      assert.strictEqual(error.status, 400)
      assert.strictEqual(fake.requests.length, 2)
      assert.strictEqual(credentials.invalidations(), 1)
    }))

  it.scopedLive("a HEAD answered 400 has no error code to read: treated as a possibly expired token, retried once", () =>
    Effect.gen(function*() {
      const fake = yield* fakeS3
      fake.handle((request, response) => {
        if (request.accessKeyId === "AKIDGEN1") {
          response.writeHead(400, { "x-amz-request-id": "HEAD400" })
          response.end()
        } else {
          replyOk(response, "", { "x-amz-bucket-region": "eu-west-1" })
        }
      })
      const credentials = rotating()
      const head = getSuccess(yield* run(s3On(fake, credentials.layer), (s3) => s3.headBucket("b")))
      assert.deepStrictEqual(head.region, Option.some("eu-west-1"))
      assert.strictEqual(credentials.invalidations(), 1)
      assert.strictEqual(fake.requests.length, 2)
    }))

  it.scopedLive("a streamed body cannot be sent twice: ExpiredToken invalidates, and the error is returned", () =>
    Effect.gen(function*() {
      const fake = yield* fakeS3
      fake.handle((_request, response) => replyError(response, 400, "ExpiredToken", "The provided token has expired."))
      const credentials = rotating()
      const error = getFailure(
        yield* run(
          s3On(fake, credentials.layer),
          (s3) => s3.putObject("b", "k", Stream.succeed(new Uint8Array(10)), { contentLength: 10 })
        )
      )
      assert.strictEqual(error.reason, "ExpiredToken")
      assert.strictEqual(fake.requests.length, 1)
      assert.strictEqual(credentials.invalidations(), 1)
    }))
})

describe("S3.layer: retries and timeouts", () => {
  it.scopedLive("without the option, the session's attempts: AWS_MAX_ATTEMPTS, max_attempts, retry_mode; else 3", () =>
    Effect.gen(function*() {
      const fake = yield* fakeS3
      fake.handle((_request, response) => replyError(response, 503, "SlowDown", "Please reduce your request rate."))
      const attemptsUnder = (home: TempHome, env: Record<string, string>) =>
        Effect.gen(function*() {
          fake.requests.length = 0
          yield* Effect.flatMap(S3.S3, (s3) => s3.listBuckets).pipe(
            Effect.provide(
              S3.layer({ endpoint: fake.url, forcePathStyle: true }).pipe(
                Layer.provide(Layer.mergeAll(staticKeys, region, AwsSession.layer().pipe(Layer.provide(platformLayer))))
              )
            ),
            withEnv(home.env(env)),
            Effect.exit
          )
          return fake.requests.length
        })
      const home = yield* tempHome
      assert.strictEqual(yield* attemptsUnder(home, { AWS_MAX_ATTEMPTS: "2" }), 2)
      assert.strictEqual(yield* attemptsUnder(home, {}), 3)
      home.writeConfig("[default]\nmax_attempts = 4\n")
      assert.strictEqual(yield* attemptsUnder(home, {}), 4)
      home.writeConfig("[default]\nretry_mode = legacy\n")
      assert.strictEqual(yield* attemptsUnder(home, {}), 5)
    }), { timeout: 60_000 })

  it.scopedLive("SlowDown (503) is retried up to maxAttempts, then reported as Throttled", () =>
    Effect.gen(function*() {
      const fake = yield* fakeS3
      let count = 0
      fake.handle((_request, response) =>
        ++count <= 2 ? replyError(response, 503, "SlowDown", "Please reduce your request rate.") : replyOk(response, listBucketsXml([]))
      )
      getSuccess(yield* run(s3On(fake, staticKeys, { maxAttempts: 3 }), (s3) => s3.listBuckets))
      assert.strictEqual(fake.requests.length, 3)

      count = 0
      fake.requests.length = 0
      const error = s3ErrorOf(getFailure(yield* run(s3On(fake, staticKeys, { maxAttempts: 2 }), (s3) => s3.listBuckets)))
      assert.strictEqual(error.reason, "Throttled")
      assert.strictEqual(error.code, "SlowDown")
      assert.strictEqual(error.status, 503)
      assert.isString(error.requestId)
      assert.strictEqual(fake.requests.length, 2)
    }))

  it.scopedLive("5xx is retried; 4xx is not", () =>
    Effect.gen(function*() {
      const fake = yield* fakeS3
      fake.handle((_request, response) => replyError(response, 500, "InternalError", "We encountered an internal error."))
      const internal = s3ErrorOf(getFailure(yield* run(s3On(fake, staticKeys, { maxAttempts: 2 }), (s3) => s3.deleteObject("b", "k"))))
      assert.strictEqual(internal.reason, "ServiceError")
      assert.strictEqual(internal.code, "InternalError")
      assert.strictEqual(fake.requests.length, 2)

      fake.requests.length = 0
      fake.handle((_request, response) => replyError(response, 403, "AccessDenied", "Access Denied"))
      const denied = s3ErrorOf(getFailure(yield* run(s3On(fake, staticKeys, { maxAttempts: 3 }), (s3) => s3.deleteObject("b", "k"))))
      assert.strictEqual(denied.reason, "AccessDenied")
      assert.strictEqual(denied.operation, "DeleteObject")
      assert.strictEqual(denied.bucket, "b")
      assert.strictEqual(denied.key, "k")
      assert.strictEqual(fake.requests.length, 1)
    }))

  it.scopedLive("a server that never answers: Timeout after `timeout`, per attempt", () =>
    Effect.gen(function*() {
      const fake = yield* fakeS3
      fake.handle(() => {})
      const started = Date.now()
      const error = getFailure(
        yield* run(s3On(fake, staticKeys, { timeout: "200 millis", maxAttempts: 2 }), (s3) => s3.headBucket("b"))
      )
      assert.strictEqual(error.reason, "Timeout")
      assert.strictEqual(fake.requests.length, 2)
      assert.isBelow(Date.now() - started, 5_000)
    }))

  it.scopedLive("a body that stops arriving: the stream fails with Timeout after the idle timeout", () =>
    Effect.gen(function*() {
      const fake = yield* fakeS3
      fake.handle((_request, response) => {
        response.writeHead(200, { "content-length": "1000", "x-amz-request-id": "STALL" })
        response.write(Buffer.alloc(10))
      })
      const started = Date.now()
      const exit = yield* run(s3On(fake, staticKeys, { idleTimeout: "300 millis" }), (s3) =>
        Effect.scoped(Effect.flatMap(s3.getObject("b", "k"), (got) => Stream.runDrain(got.body))))
      const error = getFailure(exit)
      assert.strictEqual(error.reason, "Timeout")
      assert.include(error.message, "silent for 300ms")
      assert.isBelow(Date.now() - started, 5_000)
      // getObjectText reads the same way.
      const text = getFailure(yield* run(s3On(fake, staticKeys, { idleTimeout: "300 millis" }), (s3) => s3.getObjectText("b", "k")))
      assert.strictEqual(text.reason, "Timeout")
    }))
})

describe("S3.layer: resources", () => {
  it.scopedLive("a body left unread is released when its scope closes: the server sees the connection go", () =>
    Effect.gen(function*() {
      const fake = yield* fakeS3
      const closed = yield* Deferred.make<void>()
      fake.handle((_request, response) => {
        response.writeHead(200, { "content-length": String(64 * 1024 * 1024), "x-amz-request-id": "BIG" })
        const timer = setInterval(() => response.write(Buffer.alloc(64 * 1024)), 10)
        response.on("close", () => {
          clearInterval(timer)
          Deferred.unsafeDone(closed, Exit.void)
        })
      })
      const exit = yield* run(s3On(fake, staticKeys), (s3) =>
        Effect.scoped(Effect.flatMap(s3.getObject("b", "big"), (got) => Stream.runHead(got.body))))
      assert.isTrue(Option.isSome(getSuccess(exit)))
      yield* Deferred.await(closed).pipe(Effect.timeoutFail({ duration: "5 seconds", onTimeout: () => "not released" }))
    }))

  it.scopedLive("a body arrives whole and in order, a batch of at least 1 MiB per pull, the last smaller", () =>
    Effect.gen(function*() {
      const fake = yield* fakeS3
      const size = 2.5 * 1024 * 1024
      const expected = Buffer.alloc(size)
      for (let i = 0; i < size; i++) expected[i] = (i * 7 + (i >> 12)) & 0xff
      fake.handle((_request, response) => {
        response.writeHead(200, { "content-length": String(size), "x-amz-request-id": "PIECES" })
        // 16 KiB at a time, as a slow link delivers it.
        let offset = 0
        const timer = setInterval(() => {
          response.write(expected.subarray(offset, offset + 16 * 1024))
          offset += 16 * 1024
          if (offset >= size) {
            clearInterval(timer)
            response.end()
          }
        }, 1)
        response.on("close", () => clearInterval(timer))
      })
      const batches = getSuccess(
        yield* run(s3On(fake, staticKeys), (s3) =>
          Effect.scoped(Effect.flatMap(s3.getObject("b", "pieces"), (got) =>
            got.body.pipe(
              Stream.chunks,
              Stream.map((chunk) => Buffer.concat([...chunk])),
              Stream.runCollect
            ))))
      )
      const sizes = [...batches].map((batch) => batch.length)
      assert.isTrue(Buffer.concat([...batches]).equals(expected))
      assert.isTrue(sizes.length === 2 || sizes.length === 3, `batch sizes: ${sizes.join(", ")}`)
      for (const batchSize of sizes.slice(0, -1)) assert.isAtLeast(batchSize, 1024 * 1024)
    }))

  it.scopedLive("the client is destroyed with the layer: its kept-alive connections close", () =>
    Effect.gen(function*() {
      const fake = yield* fakeS3
      fake.handle((_request, response) => replyOk(response, listBucketsXml([])))
      const during = yield* run(s3On(fake, staticKeys), (s3) => Effect.map(s3.listBuckets, () => fake.openSockets()))
      assert.isAtLeast(getSuccess(during), 1)
      yield* Effect.sleep("100 millis")
      assert.strictEqual(fake.openSockets(), 0)
    }))
})

describe("S3.layer: errors and batches", () => {
  it.scopedLive("text a server sends back is scrubbed of the secret and token that signed the request", () =>
    Effect.gen(function*() {
      const fake = yield* fakeS3
      const credentials = rotating()
      fake.handle((_request, response) =>
        replyError(
          response,
          400,
          "InvalidRequest",
          `Refused for secret-generation-1-000000000000000 with token-generation-1-00000000000000000`
        )
      )
      const exit = yield* run(s3On(fake, credentials.layer), (s3) => s3.getObjectText("b", "k"))
      const error = s3ErrorOf(getFailure(exit))
      assert.strictEqual(error.reason, "ServiceError")
      assert.strictEqual(error.code, "InvalidRequest")
      assert.include(error.detail, "<redacted>")
      assertNoSecrets(exit, credentials.secrets())
    }))

  it.scopedLive("deleteObjects: 2,500 keys go in requests of 1,000, 1,000 and 500; refused keys are reported", () =>
    Effect.gen(function*() {
      const fake = yield* fakeS3
      const batches: Array<number> = []
      fake.handle((request, response) => {
        const keys = deleteKeys(request.body)
        batches.push(keys.length)
        replyOk(response, deleteResultXml(keys.filter((key) => key.startsWith("locked/"))), {
          "content-type": "application/xml"
        })
      })
      const keys = Array.from({ length: 2500 }, (_, i) => (i % 125 === 0 ? `locked/${i}` : `free/${i}`))
      const result = getSuccess(yield* run(s3On(fake, staticKeys), (s3) => s3.deleteObjects("b", keys)))
      assert.deepStrictEqual(batches, [1000, 1000, 500])
      assert.strictEqual(result.errors.length, 20)
      assert.strictEqual(result.deleted, 2480)
      assert.deepStrictEqual(result.errors[0], { key: "locked/0", code: "AccessDenied", message: "Access Denied" })
      assert.isTrue(fake.requests.every((r) => r.query.has("delete")))
    }))
})

describe("S3.layer: compat", () => {
  const header = (fake: FakeS3, i: number, name: string) => fake.requests[i]?.headers[name]

  it.scopedLive("\"aws\": checksums on uploads (CRC32), aws-chunked streams", () =>
    Effect.gen(function*() {
      const fake = yield* fakeS3
      getSuccess(yield* run(s3On(fake, staticKeys), (s3) =>
        Effect.zipRight(
          s3.putObject("b", "bytes", "abc"),
          s3.putObject("b", "stream", Stream.succeed(new Uint8Array(5)), { contentLength: 5 })
        )))
      assert.isString(header(fake, 0, "x-amz-checksum-crc32"))
      assert.strictEqual(header(fake, 1, "content-encoding"), "aws-chunked")
      assert.strictEqual(header(fake, 1, "x-amz-decoded-content-length"), "5")
    }))

  it.scopedLive("\"s3-compatible\": no checksums unless required, plain streams, Content-MD5 on DeleteObjects, path style", () =>
    Effect.gen(function*() {
      const fake = yield* fakeS3
      fake.handle((request, response) =>
        request.query.has("delete")
          ? replyOk(response, deleteResultXml([]), { "content-type": "application/xml" })
          : replyOk(response)
      )
      getSuccess(yield* run(s3On(fake, staticKeys, { compat: "s3-compatible", forcePathStyle: undefined }), (s3) =>
        Effect.gen(function*() {
          yield* s3.putObject("b", "bytes", "abc")
          yield* s3.putObject("b", "stream", Stream.succeed(new Uint8Array(5)), { contentLength: 5 })
          yield* s3.deleteObjects("b", ["one", "two"])
        })))
      for (const i of [0, 1]) {
        assert.deepStrictEqual(Object.keys(fake.requests[i]!.headers).filter((h) => h.startsWith("x-amz-checksum")), [])
        assert.notStrictEqual(header(fake, i, "content-encoding"), "aws-chunked")
      }
      assert.strictEqual(header(fake, 1, "content-length"), "5")
      assert.strictEqual(fake.requests[0]!.path, "/b/bytes")
      const deletion = fake.requests[2]!
      assert.strictEqual(deletion.headers["content-md5"], crypto.createHash("md5").update(deletion.body).digest("base64"))
    }))
})

describe("S3.layer: presigned URLs", () => {
  const expiring = (minutes: number) =>
    AwsCredentials.layerStatic({
      accessKeyId: "ASIAPRESIGN",
      secretAccessKey: "presign-secret-0000000000000",
      sessionToken: "presign-token",
      // The test clock starts at 0.
      expiration: new Date(minutes * 60_000)
    })

  const presignLayer = (credentials: Layer.Layer<AwsCredentials.AwsCredentials>) =>
    S3.layer({ endpoint: "http://127.0.0.1:9", forcePathStyle: true }).pipe(Layer.provide(Layer.merge(credentials, region)))

  it.effect("never outlive the credentials that signed them: clamped, and said so", () =>
    Effect.gen(function*() {
      const s3 = yield* S3.S3
      const url = yield* s3.presignGetObject("bucket", "dir/key.txt", { expiresIn: "1 hour" })
      assert.isTrue(Duration.equals(url.expiresIn, Duration.minutes(10)))
      assert.isTrue(Duration.equals(url.requested, Duration.hours(1)))
      assert.deepStrictEqual(url.clampedBy, Option.some("credentials" as const))
      assert.strictEqual(url.expiresAt.epochMillis, 600_000)
      const parsed = new URL(url.url)
      assert.strictEqual(parsed.pathname, "/bucket/dir/key.txt")
      assert.strictEqual(parsed.searchParams.get("X-Amz-Expires"), "600")
      assert.strictEqual(parsed.searchParams.get("X-Amz-Date"), "19700101T000000Z")
      assert.strictEqual(parsed.searchParams.get("X-Amz-Security-Token"), "presign-token")
      assert.strictEqual(parsed.searchParams.get("X-Amz-SignedHeaders"), "host")

      const shorter = yield* s3.presignPutObject("bucket", "k", { expiresIn: "5 minutes" })
      assert.isTrue(Option.isNone(shorter.clampedBy))
      assert.strictEqual(shorter.method, "PUT")

      yield* TestClock.adjust("10 minutes")
      const late = yield* Effect.flip(s3.presignGetObject("bucket", "k"))
      assert.strictEqual(late.reason, "ExpiredToken")
    }).pipe(Effect.provide(presignLayer(expiring(10))), withEnv({})))

  it.effect("no checksum parameters, even with the \"aws\" compat's CRC32 default: the URL takes any body", () =>
    Effect.gen(function*() {
      const s3 = yield* S3.S3
      for (const signed of [yield* s3.presignPutObject("bucket", "k"), yield* s3.presignGetObject("bucket", "k")]) {
        const names = [...new URL(signed.url).searchParams.keys()]
        assert.deepStrictEqual(names.filter((name) => /checksum/i.test(name)), [])
        assert.strictEqual(new URL(signed.url).searchParams.get("X-Amz-SignedHeaders"), "host")
      }
    }).pipe(Effect.provide(presignLayer(expiring(60))), withEnv({})))

  it.effect("a lifetime under one second is refused", () =>
    Effect.gen(function*() {
      const s3 = yield* S3.S3
      const error = s3ErrorOf(yield* Effect.flip(s3.presignGetObject("bucket", "k", { expiresIn: "500 millis" })))
      assert.strictEqual(error.reason, "InvalidArgument")
      assert.strictEqual(error.code, "InvalidArgument")
    }).pipe(Effect.provide(presignLayer(staticKeys)), withEnv({})))
})

describe("S3.layerConfig", () => {
  it.scopedLive("reads Config values and takes plain ones; a missing variable is a ConfigError", () =>
    Effect.gen(function*() {
      const fake = yield* fakeS3
      fake.handle((_request, response) => replyOk(response, listBucketsXml(["from-config"])))
      const layerFor = (options: S3.ConfigOptions) =>
        S3.layerConfig(options).pipe(Layer.provide(Layer.merge(staticKeys, region)))
      const listed = yield* Effect.flatMap(S3.S3, (s3) => s3.listBuckets).pipe(
        Effect.provide(layerFor({ endpoint: Config.string("S3_ENDPOINT"), forcePathStyle: true, maxAttempts: 1 })),
        withEnv({ S3_ENDPOINT: fake.url }),
        Effect.exit
      )
      assert.deepStrictEqual(getSuccess(listed).map((b) => b.name), ["from-config"])
      assert.strictEqual(fake.requests[0]!.path, "/")
      // No options at all builds the same layer as `layer()`.
      const empty = yield* Effect.flatMap(S3.S3, () => Effect.void).pipe(
        Effect.provide(layerFor({})),
        withEnv({}),
        Effect.exit
      )
      assert.isTrue(Exit.isSuccess(empty))
      const missing = yield* Effect.flatMap(S3.S3, () => Effect.void).pipe(
        Effect.provide(layerFor({ endpoint: Config.string("S3_ENDPOINT") })),
        withEnv({}),
        Effect.flip
      )
      assert.isTrue(ConfigError.isConfigError(missing))
    }))
})

describe("S3.layer: where the endpoint comes from (botocore's order)", () => {
  /** The host and path of a presigned URL, made under `env` and the files of `home`. */
  const endpointOf = (home: TempHome, env: Record<string, string>, options: S3.Options = {}) =>
    Effect.flatMap(S3.S3, (s3) => s3.presignGetObject("bucket", "key")).pipe(
      Effect.map((signed) => {
        const url = new URL(signed.url)
        return `${url.protocol}//${url.host}${url.pathname}`
      }),
      Effect.provide(
        S3.layer(options).pipe(
          Layer.provide(Layer.mergeAll(staticKeys, region, AwsSession.layer().pipe(Layer.provide(platformLayer))))
        )
      ),
      withEnv(home.env(env)),
      Effect.exit
    )

  it.scoped("option > AWS_ENDPOINT_URL_S3 > AWS_ENDPOINT_URL > [services] s3 > profile endpoint_url > AWS", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      home.writeConfig(
        "[default]\nservices = local\nendpoint_url = http://profile.test:1004\n" +
          "[services local]\ns3 =\n  endpoint_url = http://services.test:1003\n"
      )
      const path = { forcePathStyle: true }
      assert.strictEqual(
        getSuccess(yield* endpointOf(home, { AWS_ENDPOINT_URL_S3: "http://env-s3.test:1001" }, { ...path, endpoint: "http://option.test:1000" })),
        "http://option.test:1000/bucket/key"
      )
      assert.strictEqual(
        getSuccess(yield* endpointOf(home, { AWS_ENDPOINT_URL_S3: "http://env-s3.test:1001", AWS_ENDPOINT_URL: "http://env.test:1002" }, path)),
        "http://env-s3.test:1001/bucket/key"
      )
      assert.strictEqual(getSuccess(yield* endpointOf(home, { AWS_ENDPOINT_URL: "http://env.test:1002" }, path)), "http://env.test:1002/bucket/key")
      assert.strictEqual(getSuccess(yield* endpointOf(home, {}, path)), "http://services.test:1003/bucket/key")
      home.writeConfig("[default]\nendpoint_url = http://profile.test:1004\n")
      assert.strictEqual(getSuccess(yield* endpointOf(home, {}, path)), "http://profile.test:1004/bucket/key")
      assert.strictEqual(
        getSuccess(yield* endpointOf(home, { AWS_IGNORE_CONFIGURED_ENDPOINT_URLS: "true" })),
        "https://bucket.s3.us-east-1.amazonaws.com/key"
      )
    }))

  it.scoped("the profile's s3 addressing_style = path; compat s3-compatible means path style", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      home.writeConfig("[default]\ns3 =\n  addressing_style = path\n")
      assert.strictEqual(getSuccess(yield* endpointOf(home, {})), "https://s3.us-east-1.amazonaws.com/bucket/key")
      home.writeConfig("[default]\n")
      assert.strictEqual(getSuccess(yield* endpointOf(home, {})), "https://bucket.s3.us-east-1.amazonaws.com/key")
      assert.strictEqual(
        getSuccess(yield* endpointOf(home, {}, { compat: "s3-compatible" })),
        "https://s3.us-east-1.amazonaws.com/bucket/key"
      )
    }))

  it.scoped("an endpoint that is not an http(s) URL fails the layer, naming where it was set", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const fromEnv = getFailure(yield* endpointOf(home, { AWS_ENDPOINT_URL_S3: "not a url" }))
      assert.strictEqual(fromEnv._tag, "S3Error")
      if (fromEnv._tag === "S3Error") {
        assert.strictEqual(fromEnv.reason, "InvalidConfiguration")
        assert.strictEqual(fromEnv.code, "InvalidConfiguration")
        assert.include(fromEnv.message, "AWS_ENDPOINT_URL_S3")
      }
      const fromOption = getFailure(yield* endpointOf(home, {}, { endpoint: "ftp://example.test" }))
      assert.include(fromOption.message, "endpoint option")
    }))
})

// Planted: the server echoes them, and no message may show them.
const plantedSecret = "planted-secret-0123456789abcdefghijklmnopqrst"
const plantedToken = "planted-token-0123456789abcdefghijklmnopqrstu"

/** Credentials as a profile source makes them: a source label, a trail, an account. */
const fromProfile = (accountId?: string) =>
  Layer.succeed(
    AwsCredentials.AwsCredentials,
    AwsCredentials.make({
      get: Effect.sync(() =>
        Credentials.make({
          accessKeyId: "AKIATESTKEY00000WXYZ",
          secretAccessKey: plantedSecret,
          sessionToken: plantedToken,
          source: "shared-credentials-file",
          provenance: "profile dev in /home/me/.aws/credentials:3",
          ...(accountId === undefined ? {} : { accountId })
        })
      )
    })
  )

const from = "access key AKIA...WXYZ, from profile dev in /home/me/.aws/credentials:3 (shared-credentials-file)"

describe("S3.layer: refused credentials are named", () => {
  const cases: ReadonlyArray<readonly [code: string, status: number, sentence: string]> = [
    ["InvalidAccessKeyId", 403, `AWS does not know ${from}`],
    ["SignatureDoesNotMatch", 403, `the secret key does not match ${from}`],
    ["ExpiredToken", 400, `the session token of ${from}, has expired`],
    ["TokenRefreshRequired", 400, `the session token of ${from}, has expired`],
    ["InvalidToken", 400, `the session token of ${from}, is not valid`],
    ["AccessDenied", 403, `the identity of ${from}, is not allowed to PutObject on s3://b/k`]
  ]
  for (const [code, status, sentence] of cases) {
    it.scopedLive(`${code}: reason ${code}, the signing credentials on the error, one sentence in the message`, () =>
      Effect.gen(function*() {
        const fake = yield* fakeS3
        fake.handle((_request, response) => replyError(response, status, code, `echo ${plantedSecret} ${plantedToken}`))
        const exit = yield* run(s3On(fake, fromProfile()), (s3) => s3.putObject("b", "k", "v"))
        const error = s3ErrorOf(getFailure(exit))
        assert.strictEqual(error.reason, code)
        assert.strictEqual(error.code, code)
        assert.strictEqual(error.status, status)
        assert.deepStrictEqual(error.signedWith, {
          source: "shared-credentials-file",
          accessKeyId: "AKIATESTKEY00000WXYZ",
          provenance: "profile dev in /home/me/.aws/credentials:3"
        })
        assert.strictEqual(error.detail, sentence)
        assert.match(error.message, new RegExp(`^S3 PutObject s3://b/k: ${code} \\(HTTP ${status}, request FAKE\\d+\\): `))
        assert.isTrue(error.message.endsWith(sentence), error.message)
        assertNoSecrets(exit, [plantedSecret, plantedToken])
      }))
  }

  it.scopedLive("AccessDenied names the identity's account when the credentials know it", () =>
    Effect.gen(function*() {
      const fake = yield* fakeS3
      fake.handle((_request, response) => replyError(response, 403, "AccessDenied", "Access Denied"))
      const error = s3ErrorOf(getFailure(yield* run(s3On(fake, fromProfile("123456789012")), (s3) => s3.deleteBucket("b"))))
      assert.strictEqual(error.detail, `identity account 123456789012 (${from}) is not allowed to DeleteBucket on s3://b`)
      assert.strictEqual(error.signedWith?.accountId, "123456789012")
    }))

  it.scopedLive("a HEAD refused without a body (403): AccessDenied, named the same way", () =>
    Effect.gen(function*() {
      const fake = yield* fakeS3
      fake.handle((_request, response) => {
        response.writeHead(403, { "x-amz-request-id": "HEAD403" })
        response.end()
      })
      const error = s3ErrorOf(getFailure(yield* run(s3On(fake, fromProfile()), (s3) => s3.headBucket("b"))))
      assert.strictEqual(error.reason, "AccessDenied")
      assert.strictEqual(error.detail, `the identity of ${from}, is not allowed to HeadBucket on s3://b`)
    }))

  it.scopedLive("after the ExpiredToken retry, the error names the second credentials, the ones that signed last", () =>
    Effect.gen(function*() {
      const fake = yield* fakeS3
      fake.handle((_request, response) => replyError(response, 400, "ExpiredToken", "The provided token has expired."))
      const credentials = rotating()
      const error = s3ErrorOf(getFailure(yield* run(s3On(fake, credentials.layer), (s3) => s3.getObjectText("b", "k"))))
      assert.deepStrictEqual(fake.requests.map((r) => r.accessKeyId), ["AKIDGEN1", "AKIDGEN2"])
      assert.strictEqual(error.signedWith?.accessKeyId, "AKIDGEN2")
      assert.strictEqual(error.detail, "the session token of access key ...GEN2, from explicit, has expired")
      assertNoSecrets(error, credentials.secrets())
    }))

  it.scopedLive("an answer that is not about the credentials carries none, and keeps the server's words", () =>
    Effect.gen(function*() {
      const fake = yield* fakeS3
      fake.handle((_request, response) => replyError(response, 404, "NoSuchKey", "The specified key does not exist."))
      const error = s3ErrorOf(getFailure(yield* run(s3On(fake, fromProfile()), (s3) => s3.getObjectText("b", "k"))))
      assert.strictEqual(error.reason, "NoSuchKey")
      assert.isUndefined(error.signedWith)
      assert.strictEqual(error.detail, "The specified key does not exist.")
    }))
})

describe("S3.layer: credentials that cannot be had", () => {
  const refused = new CredentialsError({
    source: "custom-process",
    reason: "ProcessFailed",
    detail: "credential_process exited with status 1",
    profile: "dev",
    attempts: [{ source: "custom-process", outcome: "failed", reason: "exited with status 1", durationMs: 1 }]
  })
  const failing = () => {
    let gets = 0
    const layer = Layer.succeed(
      AwsCredentials.AwsCredentials,
      AwsCredentials.make({ get: Effect.suspend(() => (gets++, Effect.fail(refused))) })
    )
    return { layer, gets: () => gets }
  }

  it.scopedLive("every operation fails with AwsCredentials' own CredentialsError, unretried, nothing sent", () =>
    Effect.gen(function*() {
      const fake = yield* fakeS3
      const credentials = failing()
      const operations: ReadonlyArray<(s3: S3.Service) => Effect.Effect<unknown, S3.S3Error | CredentialsError>> = [
        (s3) => s3.listBuckets,
        (s3) => s3.putObject("b", "k", "v"),
        (s3) => s3.getObjectText("b", "k"),
        (s3) => Effect.scoped(s3.getObject("b", "k")),
        (s3) => s3.headObject("b", "k"),
        (s3) => s3.upload("b", "k", "body"),
        (s3) => Stream.runDrain(s3.listObjects("b")),
        (s3) => s3.presignGetObject("b", "k")
      ]
      for (const operation of operations) {
        const exit = yield* run(s3On(fake, credentials.layer, { maxAttempts: 3 }), operation)
        const error = getFailure(exit)
        // The same error (under Effect's span-capturing proxy, so not `===`): its fields as made.
        assert.isTrue(error instanceof CredentialsError)
        assert.deepStrictEqual(
          error._tag === "CredentialsError"
            ? [error.source, error.reason, error.profile, error.detail, error.attempts]
            : error.message,
          [refused.source, refused.reason, refused.profile, refused.detail, refused.attempts]
        )
      }
      assert.strictEqual(credentials.gets(), operations.length)
      assert.strictEqual(fake.requests.length, 0)
    }))

  it.scopedLive("Effect.catchTag(\"CredentialsError\") handles it, with its source, reason and attempts", () =>
    Effect.gen(function*() {
      const fake = yield* fakeS3
      const caught = getSuccess(
        yield* run(s3On(fake, failing().layer), (s3) =>
          s3.getObjectText("b", "k").pipe(
            Effect.catchTag("CredentialsError", (error) =>
              Effect.succeed({ source: error.source, reason: error.reason, attempts: error.attempts?.length })),
            Effect.catchTag("S3Error", (error) => Effect.die(error))
          ))
      )
      assert.deepStrictEqual(caught, { source: "custom-process", reason: "ProcessFailed", attempts: 1 })
    }))
})

describe("S3.layer: every condition has its reason", () => {
  const byCode: ReadonlyArray<readonly [code: string, status: number, reason: S3.Reason]> = [
    ["BucketNotEmpty", 409, "BucketNotEmpty"],
    ["InvalidRange", 416, "InvalidRange"],
    ["EntityTooSmall", 400, "EntityTooSmall"],
    ["NotImplemented", 501, "NotImplemented"],
    ["InvalidArgument", 400, "InvalidArgument"],
    ["KeyTooLongError", 400, "ServiceError"],
    ["NoSuchUpload", 404, "ServiceError"]
  ]
  for (const [code, status, reason] of byCode) {
    it.scopedLive(`${code} (HTTP ${status}): reason ${reason}, the code kept, not retried`, () =>
      Effect.gen(function*() {
        const fake = yield* fakeS3
        fake.handle((_request, response) => replyError(response, status, code, "refused"))
        const error = s3ErrorOf(getFailure(yield* run(s3On(fake, staticKeys, { maxAttempts: 3 }), (s3) => s3.deleteObject("b", "k"))))
        assert.strictEqual(error.reason, reason)
        assert.strictEqual(error.code, code)
        assert.strictEqual(fake.requests.length, 1)
      }))
  }

  it.scopedLive("a connection reset: Unreachable, retried", () =>
    Effect.gen(function*() {
      const fake = yield* fakeS3
      fake.handle((_request, response) => response.socket?.destroy())
      const error = s3ErrorOf(getFailure(yield* run(s3On(fake, staticKeys, { maxAttempts: 2 }), (s3) => s3.listBuckets)))
      assert.strictEqual(error.reason, "Unreachable")
      assert.strictEqual(fake.requests.length, 2)
    }))

  it.scopedLive("a refused connection: Unreachable, with the transport's code", () =>
    Effect.gen(function*() {
      // A port that was free a moment ago: nothing listens on it.
      const port = yield* Effect.async<number>((resume) => {
        const server = net.createServer().listen(0, "127.0.0.1", () => {
          const { port } = server.address() as net.AddressInfo
          server.close(() => resume(Effect.succeed(port)))
        })
      })
      const layer = S3.layer({ endpoint: `http://127.0.0.1:${port}`, forcePathStyle: true, maxAttempts: 1 }).pipe(
        Layer.provide(Layer.merge(staticKeys, region))
      )
      const error = s3ErrorOf(getFailure(yield* run(layer, (s3) => s3.listBuckets)))
      assert.strictEqual(error.reason, "Unreachable")
      assert.strictEqual(error.code, "ECONNREFUSED")
    }))

  it.scopedLive("an answer without what the operation needs: InvalidResponse", () =>
    Effect.gen(function*() {
      const fake = yield* fakeS3
      fake.handle((_request, response) => replyOk(response, "<InitiateMultipartUploadResult></InitiateMultipartUploadResult>"))
      const body = new Uint8Array(6 * 1024 * 1024)
      const error = s3ErrorOf(getFailure(yield* run(s3On(fake, staticKeys), (s3) => s3.upload("b", "k", Stream.succeed(body), { partSize: 5 * 1024 * 1024 }))))
      assert.strictEqual(error.reason, "InvalidResponse")
      assert.strictEqual(error.operation, "CreateMultipartUpload")
    }))

  it.scopedLive("a body over maxBytes: TooLarge; a body read twice: BodyConsumed; after its scope: BodyReleased", () =>
    Effect.gen(function*() {
      const fake = yield* fakeS3
      fake.handle((_request, response) => replyOk(response, "0123456789"))
      const layer = s3On(fake, staticKeys)
      const tooLarge = s3ErrorOf(getFailure(yield* run(layer, (s3) => s3.getObjectBytes("b", "k", { maxBytes: 4 }))))
      assert.strictEqual(tooLarge.reason, "TooLarge")
      const twice = s3ErrorOf(getFailure(
        yield* run(layer, (s3) =>
          Effect.scoped(Effect.flatMap(s3.getObject("b", "k"), (got) =>
            Effect.zipRight(Stream.runDrain(got.body), Stream.runDrain(got.body)))))
      ))
      assert.strictEqual(twice.reason, "BodyConsumed")
      const released = s3ErrorOf(getFailure(
        yield* run(layer, (s3) => Effect.flatMap(Effect.scoped(s3.getObject("b", "k")), (got) => Stream.runDrain(got.body)))
      ))
      assert.strictEqual(released.reason, "BodyReleased")
    }))
})
