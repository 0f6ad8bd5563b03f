/**
 * The S3 contract: one suite that runs against every implementation of the `S3` service (the
 * in-memory layer in the unit tier; moto and Swift through `S3.layer` in the services tier), so
 * that `S3.layerMemory()` behaves like a real server where programs would notice.
 *
 * `registerContract` registers the tests for a layer factory (called once per test, so each
 * test gets a fresh client, or a fresh in-memory store) and the server's capabilities. Each test
 * works in its own bucket and removes it afterwards.
 */
import { GetBucketLocationCommand } from "@aws-sdk/client-s3"
import { assert, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import type * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as crypto from "node:crypto"
import * as S3 from "../../src/S3.js"
import { recordingTracer } from "../support/spans.js"

/**
 * Registers a test only when the server can do what it checks; the other branch registers a
 * test of what the server does instead, so nothing is reported as skipped.
 */
const scopedLiveIf = (condition: boolean): typeof it.scopedLive | ((...args: Parameters<typeof it.scopedLive>) => void) =>
  condition ? it.scopedLive : () => undefined

/** What the server under test does where S3-compatible servers differ. */
export interface Capabilities {
  /** Presigned URLs can be fetched with plain HTTP and work. */
  readonly presignFetch: boolean
  /** `If-Match` / `If-None-Match: *` on PutObject. */
  readonly conditionalWrites: boolean
  /** `createBucket` of a bucket you own: success (us-east-1's rule) or `BucketAlreadyOwnedByYou`. */
  readonly recreateBucket: "ok" | "BucketAlreadyOwnedByYou"
  /** `send` runs SDK commands. */
  readonly send: boolean
  /** How many keys the `deleteObjects` batching test writes (over 1,000 means two requests or more). */
  readonly manyKeys: number
  /** Copying an object onto itself without changes is refused (`InvalidRequest`), as S3 does. */
  readonly copyOntoItselfRefused: boolean
  /** `CopyObject` honours `x-amz-copy-source-if-match` (moto ignores it). */
  readonly copyConditions: boolean
  /**
   * The server checks signatures of requests with percent-encoded characters in their path or
   * query right: keys with non-ASCII characters, `%`, `+`, `(`, `)`, `!`, `*`, `'`, and listings
   * with a `/` in their prefix, delimiter or start key. moto with IAM auth on does not (it
   * answers SignatureDoesNotMatch, to botocore as well); those tests then run on the open moto.
   */
  readonly encodedSigning: boolean
}

export interface ContractOptions {
  /** Shown in the suite's name. */
  readonly name: string
  /** A fresh layer for one test. */
  readonly layer: () => Layer.Layer<S3.S3, unknown>
  readonly capabilities: Capabilities
  /** Set to skip the whole suite, with the reason in its name. */
  readonly skip?: string | undefined
}

const MiB = 1024 * 1024

const text = (bytes: Uint8Array): string => Buffer.from(bytes).toString("utf8")

const md5Etag = (bytes: Uint8Array | string): string => `"${crypto.createHash("md5").update(bytes).digest("hex")}"`

const randomBucket = (): string => `c-${crypto.randomBytes(6).toString("hex")}`

/** Bytes whose content depends on their position, so that misordered parts would show. */
const patterned = (size: number, seed = 0): Uint8Array => {
  const out = new Uint8Array(size)
  for (let i = 0; i < size; i++) out[i] = (i * 31 + seed + (i >>> 16)) & 0xff
  return out
}

/** A stream of `size` patterned bytes in chunks of `chunk` bytes, without its length known. */
const patternedStream = (size: number, chunk: number): Stream.Stream<Uint8Array> => {
  const whole = patterned(size)
  return Stream.fromIterable(
    Array.from({ length: Math.ceil(size / chunk) }, (_, i) => whole.subarray(i * chunk, Math.min(size, (i + 1) * chunk)))
  )
}

const collect = (stream: Stream.Stream<Uint8Array, S3.S3Error>): Effect.Effect<Uint8Array, S3.S3Error> =>
  Effect.map(Stream.runCollect(stream), (chunks) => Buffer.concat(Chunk.toArray(chunks)))

/** The typed failure of an effect that must fail (a success is a defect, failing the test). */
const failureOf = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<E, never, R> =>
  Effect.flip(self).pipe(Effect.orDieWith((value) => new Error(`expected a failure, got ${String(value)}`)))

const assertS3Error = (
  error: unknown,
  expected: { reason: S3.Reason; code?: string; status?: number; operation?: string; bucket?: string; key?: string }
): S3.S3Error => {
  assert.isTrue(S3.isS3Error(error), `expected an S3Error, got ${String(error)}`)
  const e = error as S3.S3Error
  assert.strictEqual(e.reason, expected.reason, e.message)
  if (expected.code !== undefined) assert.strictEqual(e.code, expected.code, e.message)
  if (expected.status !== undefined) assert.strictEqual(e.status, expected.status, e.message)
  if (expected.operation !== undefined) assert.strictEqual(e.operation, expected.operation)
  if (expected.bucket !== undefined) assert.strictEqual(e.bucket, expected.bucket)
  if (expected.key !== undefined) assert.strictEqual(e.key, expected.key)
  return e
}

/** Removes everything in a bucket, then the bucket (errors ignored: best effort after a test). */
const cleanup = (s3: S3.Service, bucket: string): Effect.Effect<void> =>
  Effect.gen(function*() {
    const uploads = yield* s3.listMultipartUploads(bucket)
    yield* Effect.forEach(uploads, (u) => s3.abortMultipartUpload(bucket, u.key, u.uploadId), { discard: true })
    const keys = yield* Stream.runCollect(Stream.map(s3.listObjects(bucket), (o) => o.key))
    yield* s3.deleteObjects(bucket, Chunk.toArray(keys))
    yield* s3.deleteBucket(bucket)
  }).pipe(Effect.ignore)

export const registerContract = (options: ContractOptions): void => {
  const { capabilities: caps } = options
  const suite = options.skip === undefined ? describe : describe.skip
  const title = `S3 contract: ${options.name}${options.skip === undefined ? "" : ` (skipped: ${options.skip})`}`

  /** Runs `use` with the service and a fresh bucket that is removed afterwards. */
  const inBucket = <A, E>(
    use: (s3: S3.Service, bucket: string) => Effect.Effect<A, E, Scope.Scope | S3.S3>
  ): Effect.Effect<A, unknown, Scope.Scope> =>
    Effect.gen(function*() {
      const s3 = yield* S3.S3
      const bucket = randomBucket()
      yield* s3.createBucket(bucket)
      return yield* Effect.ensuring(use(s3, bucket), cleanup(s3, bucket))
    }).pipe(Effect.provide(options.layer()))

  const withService = <A, E>(use: (s3: S3.Service) => Effect.Effect<A, E, Scope.Scope>) =>
    Effect.flatMap(S3.S3, use).pipe(Effect.provide(options.layer()))

  suite(title, () => {
    // --- buckets ---------------------------------------------------------------------------

    it.scopedLive("buckets: create, head, list, delete; a deleted bucket is NoSuchBucket", () =>
      withService((s3) =>
        Effect.gen(function*() {
          const bucket = randomBucket()
          yield* s3.createBucket(bucket)
          const head = yield* s3.headBucket(bucket)
          assert.strictEqual(head.bucket, bucket)
          const names = (yield* s3.listBuckets).map((b) => b.name)
          assert.include(names, bucket)
          yield* s3.deleteBucket(bucket)
          assertS3Error(yield* failureOf(s3.headBucket(bucket)), {
            reason: "NoSuchBucket",
            status: 404,
            operation: "HeadBucket",
            bucket
          })
          assertS3Error(yield* failureOf(s3.deleteBucket(bucket)), { reason: "NoSuchBucket", code: "NoSuchBucket", status: 404 })
          assert.notInclude((yield* s3.listBuckets).map((b) => b.name), bucket)
        })
      ))

    it.scopedLive(`creating a bucket you already own: ${caps.recreateBucket}`, () =>
      inBucket((s3, bucket) =>
        Effect.gen(function*() {
          if (caps.recreateBucket === "ok") {
            yield* s3.createBucket(bucket)
          } else {
            assertS3Error(yield* failureOf(s3.createBucket(bucket)), {
              reason: "BucketAlreadyOwnedByYou",
              status: 409
            })
          }
        })
      ))

    it.scopedLive("deleting a bucket that still has objects: BucketNotEmpty (reason and code), 409", () =>
      inBucket((s3, bucket) =>
        Effect.gen(function*() {
          yield* s3.putObject(bucket, "k", "v")
          assertS3Error(yield* failureOf(s3.deleteBucket(bucket)), {
            reason: "BucketNotEmpty",
            code: "BucketNotEmpty",
            status: 409,
            bucket
          })
        })
      ))

    // --- objects ---------------------------------------------------------------------------

    it.scopedLive("putObject and getObject: string, bytes and a stream of known length, with type and metadata", () =>
      inBucket((s3, bucket) =>
        Effect.gen(function*() {
          const a = yield* s3.putObject(bucket, "a.txt", "héllo", {
            contentType: "text/plain; charset=utf-8",
            metadata: { Owner: "Team-A", "x-trace": "1" }
          })
          assert.strictEqual(a.etag, md5Etag("héllo"))
          const bytes = patterned(70_000)
          const b = yield* s3.putObject(bucket, "b.bin", bytes)
          assert.strictEqual(b.etag, md5Etag(bytes))
          const streamed = patterned(300_000, 7)
          const c = yield* s3.putObject(bucket, "c.bin", Stream.fromIterable([streamed.subarray(0, 100_000), streamed.subarray(100_000)]), {
            contentLength: streamed.length,
            contentType: "application/x-test"
          })
          assert.strictEqual(c.etag, md5Etag(streamed))

          const got = yield* s3.getObject(bucket, "a.txt")
          assert.strictEqual(got.bucket, bucket)
          assert.strictEqual(got.key, "a.txt")
          assert.strictEqual(got.size, Buffer.byteLength("héllo"))
          assert.strictEqual(got.contentLength, got.size)
          assert.strictEqual(got.etag, a.etag)
          assert.deepStrictEqual(got.contentType, Option.some("text/plain; charset=utf-8"))
          assert.deepStrictEqual(got.metadata, { owner: "Team-A", "x-trace": "1" })
          assert.isTrue(Option.isNone(got.range))
          assert.strictEqual(text(yield* collect(got.body)), "héllo")

          assert.deepStrictEqual(yield* s3.getObjectBytes(bucket, "b.bin"), bytes)
          assert.deepStrictEqual(yield* s3.getObjectBytes(bucket, "c.bin"), streamed)
          assert.strictEqual(yield* s3.getObjectText(bucket, "a.txt"), "héllo")
        })
      ))

    it.scopedLive("a stream body longer or shorter than contentLength fails (BodyLengthMismatch) and stores nothing", () =>
      inBucket((s3, bucket) =>
        Effect.gen(function*() {
          const longer = yield* failureOf(s3.putObject(bucket, "long", Stream.succeed(patterned(20)), { contentLength: 10 }))
          assertS3Error(longer, { reason: "InvalidArgument", code: "BodyLengthMismatch" })
          const shorter = yield* failureOf(s3.putObject(bucket, "short", Stream.succeed(patterned(5)), { contentLength: 10 }))
          assertS3Error(shorter, { reason: "InvalidArgument", code: "BodyLengthMismatch" })
          assert.isTrue(Option.isNone(yield* s3.headObject(bucket, "long")))
          assert.isTrue(Option.isNone(yield* s3.headObject(bucket, "short")))
        })
      ))

    it.scopedLive("a failing stream body fails putObject with the stream's own error", () =>
      inBucket((s3, bucket) =>
        Effect.gen(function*() {
          class BodyBroke {
            readonly _tag = "BodyBroke"
          }
          const body = Stream.concat(Stream.succeed(patterned(1000)), Stream.fail(new BodyBroke()))
          const error = yield* failureOf(s3.putObject(bucket, "broken", body, { contentLength: 5000 }))
          assert.instanceOf(error, BodyBroke)
          assert.isTrue(Option.isNone(yield* s3.headObject(bucket, "broken")))
        })
      ))

    it.scopedLive("headObject: the metadata of an object, None for a missing key or bucket", () =>
      inBucket((s3, bucket) =>
        Effect.gen(function*() {
          yield* s3.putObject(bucket, "h", "12345", { contentType: "text/x-h", metadata: { K: "v" } })
          const head = yield* s3.headObject(bucket, "h")
          assert.isTrue(Option.isSome(head))
          if (Option.isSome(head)) {
            assert.strictEqual(head.value.size, 5)
            assert.strictEqual(head.value.etag, md5Etag("12345"))
            assert.deepStrictEqual(head.value.contentType, Option.some("text/x-h"))
            assert.deepStrictEqual(head.value.metadata, { k: "v" })
          }
          assert.isTrue(Option.isNone(yield* s3.headObject(bucket, "missing")))
          assert.isTrue(Option.isNone(yield* s3.headObject(randomBucket(), "missing")))
        })
      ))

    it.scopedLive("getObject of a missing key is NoSuchKey (404, bucket, key, request id); of a missing bucket NoSuchBucket", () =>
      inBucket((s3, bucket) =>
        Effect.gen(function*() {
          const error = assertS3Error(yield* failureOf(s3.getObject(bucket, "nope")), {
            reason: "NoSuchKey",
            code: "NoSuchKey",
            status: 404,
            operation: "GetObject",
            bucket,
            key: "nope"
          })
          assert.isString(error.requestId)
          assert.include(error.message, `s3://${bucket}/nope`)
          const other = randomBucket()
          assertS3Error(yield* failureOf(s3.getObjectText(other, "nope")), {
            reason: "NoSuchBucket",
            code: "NoSuchBucket",
            status: 404,
            bucket: other
          })
          assertS3Error(yield* failureOf(s3.putObject(other, "k", "v")), { reason: "NoSuchBucket", status: 404 })
        })
      ))

    it.scopedLive("ranges: start-end, open end, the last n bytes, an end past the size; a start past it is InvalidRange (416)", () =>
      inBucket((s3, bucket) =>
        Effect.gen(function*() {
          yield* s3.putObject(bucket, "r", "0123456789")
          const first = yield* s3.getObject(bucket, "r", { range: { start: 2, end: 4 } })
          assert.strictEqual(text(yield* collect(first.body)), "234")
          assert.deepStrictEqual(first.range, Option.some({ start: 2, end: 4, size: 10 }))
          assert.strictEqual(first.size, 10)
          assert.strictEqual(first.contentLength, 3)
          assert.strictEqual(yield* s3.getObjectText(bucket, "r", { range: { start: 7 } }), "789")
          assert.strictEqual(yield* s3.getObjectText(bucket, "r", { range: { last: 3 } }), "789")
          assert.strictEqual(yield* s3.getObjectText(bucket, "r", { range: { last: 50 } }), "0123456789")
          const clamped = yield* s3.getObject(bucket, "r", { range: { start: 8, end: 100 } })
          assert.deepStrictEqual(clamped.range, Option.some({ start: 8, end: 9, size: 10 }))
          assert.strictEqual(text(yield* collect(clamped.body)), "89")
          assertS3Error(yield* failureOf(s3.getObject(bucket, "r", { range: { start: 10 } })), {
            reason: "InvalidRange",
            code: "InvalidRange",
            status: 416
          })
        })
      ))

    it.scopedLive("an empty object: written, read, listed; any range of it is InvalidRange", () =>
      inBucket((s3, bucket) =>
        Effect.gen(function*() {
          const written = yield* s3.putObject(bucket, "empty", new Uint8Array(0))
          assert.strictEqual(written.etag, md5Etag(""))
          const got = yield* s3.getObject(bucket, "empty")
          assert.strictEqual(got.size, 0)
          assert.strictEqual((yield* collect(got.body)).length, 0)
          assert.strictEqual(yield* s3.getObjectText(bucket, "empty"), "")
          const listed = Chunk.toArray(yield* Stream.runCollect(s3.listObjects(bucket)))
          assert.deepStrictEqual(listed.map((o) => [o.key, o.size]), [["empty", 0]])
          assertS3Error(yield* failureOf(s3.getObject(bucket, "empty", { range: { start: 0 } })), {
            reason: "InvalidRange",
            code: "InvalidRange",
            status: 416
          })
        })
      ))

    if (!caps.conditionalWrites) {
      it.scopedLive("conditional writes: this server refuses them (501), as a typed S3Error, and writes nothing", () =>
        inBucket((s3, bucket) =>
          Effect.gen(function*() {
            const error = yield* failureOf(s3.putObject(bucket, "c", "one", { ifNoneMatch: "*" }))
            assertS3Error(error, { reason: "NotImplemented", status: 501 })
            assert.isTrue(Option.isNone(yield* s3.headObject(bucket, "c")))
          })
        ))
    }

    scopedLiveIf(caps.conditionalWrites)(
      "conditional writes: If-None-Match * creates once; If-Match needs the current entity tag",
      () =>
        inBucket((s3, bucket) =>
          Effect.gen(function*() {
            const first = yield* s3.putObject(bucket, "c", "one", { ifNoneMatch: "*" })
            assertS3Error(yield* failureOf(s3.putObject(bucket, "c", "two", { ifNoneMatch: "*" })), {
              reason: "PreconditionFailed",
              status: 412,
              key: "c"
            })
            assert.strictEqual(yield* s3.getObjectText(bucket, "c"), "one")
            assertS3Error(yield* failureOf(s3.putObject(bucket, "c", "two", { ifMatch: md5Etag("other") })), {
              reason: "PreconditionFailed",
              status: 412
            })
            const second = yield* s3.putObject(bucket, "c", "two", { ifMatch: first.etag })
            assert.strictEqual(second.etag, md5Etag("two"))
            assert.strictEqual(yield* s3.getObjectText(bucket, "c"), "two")
            assertS3Error(yield* failureOf(s3.putObject(bucket, "missing", "x", { ifMatch: first.etag })), {
              reason: "NoSuchKey",
              status: 404
            })
          })
        )
    )

    it.scopedLive("getObject with ifMatch: the current entity tag reads, another is PreconditionFailed", () =>
      inBucket((s3, bucket) =>
        Effect.gen(function*() {
          const { etag } = yield* s3.putObject(bucket, "m", "body")
          assert.strictEqual(yield* s3.getObjectText(bucket, "m", { ifMatch: etag }), "body")
          assertS3Error(yield* failureOf(s3.getObjectText(bucket, "m", { ifMatch: md5Etag("x") })), {
            reason: "PreconditionFailed",
            status: 412
          })
        })
      ))

    it.scopedLive("a getObject body streams once, inside its scope: again, or after the scope, is a typed error at once", () =>
      inBucket((s3, bucket) =>
        Effect.gen(function*() {
          yield* s3.putObject(bucket, "once", "read me once")
          const decode = (chunks: Chunk.Chunk<Uint8Array>) => Buffer.concat(Chunk.toArray(chunks)).toString("utf8")
          const again = yield* Effect.scoped(Effect.gen(function*() {
            const got = yield* s3.getObject(bucket, "once")
            assert.strictEqual(decode(yield* Stream.runCollect(got.body)), "read me once")
            return yield* failureOf(Stream.runCollect(got.body))
          }))
          assertS3Error(again, { reason: "BodyConsumed", code: "BodyConsumed", operation: "GetObject", bucket, key: "once" })
          const escaped = yield* Effect.scoped(s3.getObject(bucket, "once"))
          const released = yield* failureOf(
            Stream.runCollect(escaped.body).pipe(Effect.timeoutFail({ duration: "5 seconds", onTimeout: () => "hung" }))
          )
          assertS3Error(released, { reason: "BodyReleased", code: "BodyReleased", key: "once" })
        })
      ))

    it.scopedLive("getObjectText / getObjectBytes refuse an object over maxBytes before reading it", () =>
      inBucket((s3, bucket) =>
        Effect.gen(function*() {
          yield* s3.putObject(bucket, "big", patterned(4096))
          assertS3Error(yield* failureOf(s3.getObjectBytes(bucket, "big", { maxBytes: 4095 })), {
            reason: "TooLarge",
            code: "MaxBytesExceeded"
          })
          assertS3Error(yield* failureOf(s3.getObjectText(bucket, "big", { maxBytes: 100 })), {
            reason: "TooLarge",
            code: "MaxBytesExceeded"
          })
          assert.strictEqual((yield* s3.getObjectBytes(bucket, "big", { maxBytes: 4096 })).length, 4096)
          // A range under the cap of a larger object reads.
          assert.strictEqual((yield* s3.getObjectBytes(bucket, "big", { maxBytes: 100, range: { start: 0, end: 99 } })).length, 100)
        })
      ))

    it.scopedLive("bodies read in part and left: released with their scope, so many more reads still work", () =>
      inBucket((s3, bucket) =>
        Effect.gen(function*() {
          const object = patterned(512 * 1024)
          yield* s3.putObject(bucket, "partial", object)
          // More than the client's connection pool (50): leaked connections would stall this.
          for (let i = 0; i < 60; i++) {
            const first = yield* Effect.scoped(
              Effect.flatMap(s3.getObject(bucket, "partial"), (got) => Stream.runHead(got.body))
            )
            assert.isTrue(Option.isSome(first))
          }
          // A body never read at all is released too.
          for (let i = 0; i < 60; i++) yield* Effect.scoped(s3.getObject(bucket, "partial"))
          assert.deepStrictEqual(yield* s3.getObjectBytes(bucket, "partial"), object)
        })
      ), 60_000)

    it.scopedLive("deleteObject removes; deleting a key that does not exist succeeds", () =>
      inBucket((s3, bucket) =>
        Effect.gen(function*() {
          yield* s3.putObject(bucket, "d", "x")
          yield* s3.deleteObject(bucket, "d")
          assert.isTrue(Option.isNone(yield* s3.headObject(bucket, "d")))
          yield* s3.deleteObject(bucket, "d")
          yield* s3.deleteObject(bucket, "never-there")
        })
      ))

    it.scopedLive(`deleteObjects: ${caps.manyKeys} keys in batches of 1,000; missing keys count as deleted`, () =>
      inBucket((s3, bucket) =>
        Effect.gen(function*() {
          const keys = Array.from({ length: caps.manyKeys }, (_, i) => `many/${String(i).padStart(5, "0")}`)
          yield* Effect.forEach(keys, (key) => s3.putObject(bucket, key, key), { concurrency: 16, discard: true })
          const result = yield* s3.deleteObjects(bucket, [...keys, "many/missing-1", "many/missing-2"])
          assert.deepStrictEqual(result, { deleted: keys.length + 2, errors: [] })
          assert.strictEqual(Chunk.size(yield* Stream.runCollect(s3.listObjects(bucket))), 0)
          assert.deepStrictEqual(yield* s3.deleteObjects(bucket, []), { deleted: 0, errors: [] })
          assertS3Error(yield* failureOf(s3.deleteObjects(randomBucket(), ["k"])), { reason: "NoSuchBucket", status: 404 })
        })
      ), 120_000)

    it.scopedLive("copyObject: body and metadata copied, or replaced; a missing source is NoSuchKey", () =>
      inBucket((s3, bucket) =>
        Effect.gen(function*() {
          const source = yield* s3.putObject(bucket, "src", "copied body", { contentType: "text/x-src", metadata: { a: "1" } })
          const copy = yield* s3.copyObject({ bucket, key: "src" }, { bucket, key: "dst/copy" })
          assert.strictEqual(copy.etag, source.etag)
          const head = Option.getOrThrow(yield* s3.headObject(bucket, "dst/copy"))
          assert.deepStrictEqual(head.metadata, { a: "1" })
          assert.deepStrictEqual(head.contentType, Option.some("text/x-src"))
          assert.strictEqual(yield* s3.getObjectText(bucket, "dst/copy"), "copied body")

          yield* s3.copyObject({ bucket, key: "src" }, { bucket, key: "dst/replaced" }, {
            contentType: "text/x-new",
            metadata: { b: "2" }
          })
          const replaced = Option.getOrThrow(yield* s3.headObject(bucket, "dst/replaced"))
          assert.deepStrictEqual(replaced.metadata, { b: "2" })
          assert.deepStrictEqual(replaced.contentType, Option.some("text/x-new"))

          // Replacing an object's own metadata is allowed (that is how S3 edits metadata).
          yield* s3.copyObject({ bucket, key: "src" }, { bucket, key: "src" }, { metadata: { c: "3" } })
          assert.deepStrictEqual(Option.getOrThrow(yield* s3.headObject(bucket, "src")).metadata, { c: "3" })
          if (caps.copyOntoItselfRefused) {
            assertS3Error(yield* failureOf(s3.copyObject({ bucket, key: "src" }, { bucket, key: "src" })), {
              reason: "ServiceError",
              code: "InvalidRequest",
              status: 400
            })
          }
          assertS3Error(yield* failureOf(s3.copyObject({ bucket, key: "nope" }, { bucket, key: "x" })), {
            reason: "NoSuchKey",
            status: 404
          })
          if (caps.copyConditions) {
            assertS3Error(
              yield* failureOf(s3.copyObject({ bucket, key: "src" }, { bucket, key: "x" }, { ifMatch: md5Etag("no") })),
              { reason: "PreconditionFailed", status: 412 }
            )
          }
        })
      ))

    // --- listing ---------------------------------------------------------------------------

    /** Keys whose UTF-16 order differs from S3's (UTF-8 byte) order, where the server can sign for them. */
    const unicodeKeys = caps.encodedSigning ? ["é", "\uff01", "\u{1F600}"] : []
    const orderKeys = ["a/1", "a/2", "a/b/3", "b", "c/x", "Z", "_", "a-", "a/1/x", "~x", ...unicodeKeys]

    it.scopedLive("listObjects: every key in UTF-8 byte order, across pages of any size", () =>
      inBucket((s3, bucket) =>
        Effect.gen(function*() {
          yield* Effect.forEach(orderKeys, (key) => s3.putObject(bucket, key, key), { concurrency: 4, discard: true })
          const expected = [...orderKeys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))
          const all = Chunk.toArray(yield* Stream.runCollect(s3.listObjects(bucket))).map((o) => o.key)
          assert.deepStrictEqual(all, expected)
          for (const pageSize of [1, 2, 5]) {
            const paged = Chunk.toArray(yield* Stream.runCollect(s3.listObjects(bucket, { pageSize }))).map((o) => o.key)
            assert.deepStrictEqual(paged, expected, `pageSize ${pageSize}`)
            const pages = Chunk.toArray(yield* Stream.runCollect(s3.listPages(bucket, { pageSize })))
            assert.strictEqual(pages.length, Math.ceil(expected.length / pageSize))
          }
          const summary = Chunk.toArray(yield* Stream.runCollect(s3.listObjects(bucket, { prefix: "b" })))
          assert.strictEqual(summary.length, 1)
          assert.strictEqual(summary[0]!.size, 1)
          assert.strictEqual(summary[0]!.etag, md5Etag("b"))
        })
      ))

    {
      if (!caps.encodedSigning) {
        it.scopedLive(
          "listObjects with a prefix: this server cannot check signatures of percent-encoded queries (botocore fails the same way); the failure is a typed SignatureDoesNotMatch",
          () =>
            inBucket((s3, bucket) =>
              Effect.gen(function*() {
                yield* s3.putObject(bucket, "a/1", "x")
                const error = yield* Effect.flip(Stream.runCollect(s3.listObjects(bucket, { prefix: "a/" })))
                assertS3Error(error, { reason: "SignatureDoesNotMatch", status: 403 })
              })
            )
        )
      }
      const encoded = scopedLiveIf(caps.encodedSigning)
      encoded("listObjects with prefix and startAfter", () =>
        inBucket((s3, bucket) =>
          Effect.gen(function*() {
            yield* Effect.forEach(orderKeys, (key) => s3.putObject(bucket, key, key), { concurrency: 4, discard: true })
            const keys = (options: S3.ListOptions) =>
              Effect.map(Stream.runCollect(s3.listObjects(bucket, options)), (c) => Chunk.toArray(c).map((o) => o.key))
            assert.deepStrictEqual(yield* keys({ prefix: "a/" }), ["a/1", "a/1/x", "a/2", "a/b/3"])
            assert.deepStrictEqual(yield* keys({ prefix: "a/", pageSize: 1 }), ["a/1", "a/1/x", "a/2", "a/b/3"])
            assert.deepStrictEqual(yield* keys({ startAfter: "c/x" }), ["~x", ...unicodeKeys])
            assert.deepStrictEqual(yield* keys({ prefix: "a/", startAfter: "a/2" }), ["a/b/3"])
            assert.deepStrictEqual(yield* keys({ prefix: "nothing" }), [])
          })
        ))

      encoded("listPages with a delimiter: common prefixes, counted against the page size, each once", () =>
        inBucket((s3, bucket) =>
          Effect.gen(function*() {
            yield* Effect.forEach(orderKeys, (key) => s3.putObject(bucket, key, key), { concurrency: 4, discard: true })
            const flat = (options: S3.ListOptions) =>
              Effect.map(Stream.runCollect(s3.listPages(bucket, options)), (pages) => {
                const list = Chunk.toArray(pages)
                return {
                  pages: list.length,
                  objects: list.flatMap((p) => p.objects.map((o) => o.key)),
                  prefixes: list.flatMap((p) => p.commonPrefixes)
                }
              })
            const top = yield* flat({ delimiter: "/" })
            assert.deepStrictEqual(top.prefixes, ["a/", "c/"])
            assert.deepStrictEqual(top.objects, ["Z", "_", "a-", "b", "~x", ...unicodeKeys])
            const paged = yield* flat({ delimiter: "/", pageSize: 2 })
            assert.deepStrictEqual(paged.prefixes, ["a/", "c/"])
            assert.deepStrictEqual(paged.objects, top.objects)
            assert.strictEqual(paged.pages, Math.ceil((top.objects.length + top.prefixes.length) / 2))
            const nested = yield* flat({ delimiter: "/", prefix: "a/" })
            assert.deepStrictEqual(nested.prefixes, ["a/1/", "a/b/"])
            assert.deepStrictEqual(nested.objects, ["a/1", "a/2"])
            assert.deepStrictEqual(
              Chunk.toArray(yield* Stream.runCollect(s3.listObjects(bucket, { delimiter: "/", prefix: "c/" }))).map((o) => o.key),
              ["c/x"]
            )
          })
        ))
    }

    it.scopedLive("listing a missing bucket fails with NoSuchBucket", () =>
      withService((s3) =>
        Effect.gen(function*() {
          const bucket = randomBucket()
          assertS3Error(yield* failureOf(Stream.runDrain(s3.listObjects(bucket))), {
            reason: "NoSuchBucket",
            status: 404,
            bucket
          })
        })
      ))

    it.scopedLive(`keys with spaces, ?, #, ~, //${caps.encodedSigning ? ", unicode, %, + and sub-delimiters" : ""} go through put, get, list, copy and delete`, () =>
      inBucket((s3, bucket) =>
        Effect.gen(function*() {
          const keys = [
            "dir/with space.txt",
            "question?mark",
            "hash#tag",
            "double//slash",
            "tilde~",
            ...(caps.encodedSigning ? ["unicode/é\u{1F600}", "plus+sign", "(parens)!*'", "percent%20"] : [])
          ]
          for (const key of keys) {
            yield* s3.putObject(bucket, key, `body of ${key}`)
            assert.strictEqual(yield* s3.getObjectText(bucket, key), `body of ${key}`)
          }
          const listed = Chunk.toArray(yield* Stream.runCollect(s3.listObjects(bucket))).map((o) => o.key)
          assert.deepStrictEqual(listed, [...keys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))))
          yield* s3.copyObject({ bucket, key: "question?mark" }, { bucket, key: "copy of question?mark" })
          assert.strictEqual(yield* s3.getObjectText(bucket, "copy of question?mark"), "body of question?mark")
          const result = yield* s3.deleteObjects(bucket, [...keys, "copy of question?mark"])
          assert.deepStrictEqual(result.errors, [])
          assert.strictEqual(Chunk.size(yield* Stream.runCollect(s3.listObjects(bucket))), 0)
        })
      ))

    // --- upload ----------------------------------------------------------------------------

    it.scopedLive("upload: a body up to one part is one PutObject", () =>
      inBucket((s3, bucket) =>
        Effect.gen(function*() {
          const small = yield* s3.upload(bucket, "small", patternedStream(100_000, 4096), { contentType: "text/x-u", metadata: { m: "1" } })
          assert.strictEqual(small.parts, 0)
          assert.strictEqual(small.size, 100_000)
          assert.strictEqual(small.etag, md5Etag(patterned(100_000)))
          const head = Option.getOrThrow(yield* s3.headObject(bucket, "small"))
          assert.deepStrictEqual(head.contentType, Option.some("text/x-u"))
          assert.deepStrictEqual(head.metadata, { m: "1" })
          const fromString = yield* s3.upload(bucket, "string", "just text")
          assert.strictEqual(fromString.parts, 0)
          assert.strictEqual(yield* s3.getObjectText(bucket, "string"), "just text")
          const exactlyOnePart = yield* s3.upload(bucket, "one-part", patternedStream(5 * MiB, MiB), { partSize: 5 * MiB })
          assert.strictEqual(exactlyOnePart.parts, 0)
          const empty = yield* s3.upload(bucket, "empty", Stream.empty)
          assert.strictEqual(empty.size, 0)
          assert.strictEqual((yield* s3.getObjectBytes(bucket, "empty")).length, 0)
        })
      ))

    it.scopedLive("upload: a stream of unknown length in parts, sent concurrently, reassembled in order", () =>
      inBucket((s3, bucket) =>
        Effect.gen(function*() {
          const size = 11 * MiB + 12345
          const result = yield* s3.upload(bucket, "multi", patternedStream(size, 300_001), {
            partSize: 5 * MiB,
            concurrency: 2,
            contentType: "application/x-multi",
            metadata: { parts: "3" }
          })
          assert.strictEqual(result.parts, 3)
          assert.strictEqual(result.size, size)
          assert.match(result.etag, /^"[0-9a-f]{32}-3"$/)
          const got = yield* s3.getObjectBytes(bucket, "multi", { maxBytes: 20 * MiB })
          assert.isTrue(Buffer.from(got).equals(Buffer.from(patterned(size))), "the object has the uploaded bytes")
          const head = Option.getOrThrow(yield* s3.headObject(bucket, "multi"))
          assert.strictEqual(head.etag, result.etag)
          assert.deepStrictEqual(head.contentType, Option.some("application/x-multi"))
          assert.deepStrictEqual(head.metadata, { parts: "3" })
          assert.deepStrictEqual(yield* s3.listMultipartUploads(bucket), [])
        })
      ), 60_000)

    it.scopedLive("upload: a body that fails midway fails with its own error and leaves no multipart upload", () =>
      inBucket((s3, bucket) =>
        Effect.gen(function*() {
          class Broken {
            readonly _tag = "Broken"
          }
          const body = Stream.concat(patternedStream(7 * MiB, MiB), Stream.fail(new Broken()))
          const error = yield* failureOf(s3.upload(bucket, "broken", body, { partSize: 5 * MiB }))
          assert.instanceOf(error, Broken)
          assert.deepStrictEqual(yield* s3.listMultipartUploads(bucket), [])
          assert.isTrue(Option.isNone(yield* s3.headObject(bucket, "broken")))
        })
      ), 60_000)

    it.scopedLive("upload interrupted halfway leaves no multipart upload behind (ListMultipartUploads)", () =>
      inBucket((s3, bucket) =>
        Effect.gen(function*() {
          const never = yield* Deferred.make<void>()
          // 12 MiB, then a body that never ends: two parts go out, the third never fills.
          const body = Stream.concat(patternedStream(12 * MiB, MiB), Stream.drain(Stream.fromEffect(Deferred.await(never))))
          const fiber = yield* Effect.fork(s3.upload(bucket, "interrupted", body, { partSize: 5 * MiB, concurrency: 2 }))
          const started = yield* s3.listMultipartUploads(bucket).pipe(
            Effect.filterOrFail((uploads) => uploads.length === 1, () => "the upload has not started yet"),
            Effect.retry({ schedule: Schedule.spaced(Duration.millis(20)), times: 1000 })
          )
          assert.strictEqual(started[0]!.key, "interrupted")
          yield* Effect.sleep(Duration.millis(300))
          yield* Fiber.interrupt(fiber)
          assert.deepStrictEqual(yield* s3.listMultipartUploads(bucket), [])
          assert.isTrue(Option.isNone(yield* s3.headObject(bucket, "interrupted")))
        })
      ), 60_000)

    it.scopedLive("upload refuses parts under 5 MiB and concurrency under 1", () =>
      inBucket((s3, bucket) =>
        Effect.gen(function*() {
          assertS3Error(yield* failureOf(s3.upload(bucket, "x", "body", { partSize: MiB })), {
            reason: "InvalidArgument",
            code: "InvalidArgument"
          })
          assertS3Error(yield* failureOf(s3.upload(bucket, "x", "body", { concurrency: 0 })), {
            reason: "InvalidArgument",
            code: "InvalidArgument"
          })
        })
      ))

    // --- presign, handle, send, spans ---------------------------------------------------------

    it.scopedLive(`presigned GET and PUT URLs with the requested lifetime${caps.presignFetch ? ", fetched over HTTP" : ""}`, () =>
      inBucket((s3, bucket) =>
        Effect.gen(function*() {
          yield* s3.putObject(bucket, "dir/presigned file.txt", "signed content")
          const get = yield* s3.presignGetObject(bucket, "dir/presigned file.txt", { expiresIn: "10 minutes" })
          assert.strictEqual(get.method, "GET")
          assert.isTrue(Duration.equals(get.expiresIn, Duration.minutes(10)))
          assert.isTrue(Duration.equals(get.requested, Duration.minutes(10)))
          assert.isTrue(Option.isNone(get.clampedBy))
          assert.match(get.url, /X-Amz-Expires=600/)
          const put = yield* s3.presignPutObject(bucket, "uploaded.txt")
          assert.isTrue(Duration.equals(put.expiresIn, Duration.minutes(15)), "default lifetime: 15 minutes")
          const week = yield* s3.presignGetObject(bucket, "x", { expiresIn: "8 days" })
          assert.isTrue(Duration.equals(week.expiresIn, Duration.days(7)))
          assert.deepStrictEqual(week.clampedBy, Option.some("maximum" as const))
          if (caps.presignFetch) {
            const response = yield* Effect.promise(() => fetch(get.url))
            assert.strictEqual(response.status, 200)
            assert.strictEqual(yield* Effect.promise(() => response.text()), "signed content")
            const upload = yield* Effect.promise(() => fetch(put.url, { method: "PUT", body: "put through a URL" }))
            assert.strictEqual(upload.status, 200, yield* Effect.promise(() => upload.text()))
            assert.strictEqual(yield* s3.getObjectText(bucket, "uploaded.txt"), "put through a URL")
          }
        })
      ))

    it.scopedLive("the object handle: put, text, bytes, head, get, copyTo, upload, delete (boto3's s3.Object)", () =>
      inBucket((_s3, bucket) =>
        Effect.gen(function*() {
          const object = S3.object(bucket, "handle.txt")
          yield* object.put("via the handle", { contentType: "text/plain" })
          assert.strictEqual(yield* object.text(), "via the handle")
          assert.strictEqual(text(yield* object.bytes()), "via the handle")
          assert.strictEqual(Option.getOrThrow(yield* object.head()).size, 14)
          assert.strictEqual(text(yield* collect((yield* object.get()).body)), "via the handle")
          yield* object.copyTo({ bucket, key: "handle-copy.txt" })
          assert.strictEqual(yield* S3.object(bucket, "handle-copy.txt").text(), "via the handle")
          yield* S3.object(bucket, "handle-upload").upload(Stream.succeed(patterned(10)))
          assert.strictEqual((yield* S3.object(bucket, "handle-upload").bytes()).length, 10)
          yield* object.delete()
          assert.isTrue(Option.isNone(yield* object.head()))
          assert.match((yield* object.presignGet()).url, /handle\.txt/)
        })
      ))

    it.scopedLive(caps.send ? "send runs any other SDK command" : "send fails with NotImplemented", () =>
      inBucket((s3, bucket) =>
        Effect.gen(function*() {
          const command = new GetBucketLocationCommand({ Bucket: bucket })
          if (caps.send) {
            const output = yield* s3.send(command)
            assert.strictEqual(output.$metadata.httpStatusCode, 200)
            assertS3Error(yield* failureOf(s3.send(new GetBucketLocationCommand({ Bucket: randomBucket() }))), {
              reason: "NoSuchBucket",
              operation: "GetBucketLocation"
            })
          } else {
            assertS3Error(yield* failureOf(s3.send(command)), { reason: "NotImplemented", code: "NotImplemented" })
          }
        })
      ))

    it.scopedLive("every operation runs in a span named S3.<operation> with the bucket and key", () =>
      inBucket((s3, bucket) =>
        Effect.gen(function*() {
          const { spans, tracer } = recordingTracer()
          yield* Effect.gen(function*() {
            yield* s3.putObject(bucket, "traced", "x")
            yield* s3.getObjectText(bucket, "traced")
            yield* Stream.runDrain(s3.listObjects(bucket))
            yield* s3.deleteObject(bucket, "traced")
          }).pipe(Effect.withTracer(tracer))
          const names = spans.map((s) => s.name)
          assert.includeMembers(names, ["S3.putObject", "S3.getObjectText", "S3.listObjects", "S3.deleteObject"])
          const put = spans.find((s) => s.name === "S3.putObject")!
          assert.strictEqual(put.attributes.get("aws.s3.bucket"), bucket)
          assert.strictEqual(put.attributes.get("aws.s3.key"), "traced")
        })
      ))
  })
}
