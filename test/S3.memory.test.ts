/**
 * The S3 contract against `S3.layerMemory()` (the unit tier), and what only the in-memory layer
 * has: presigned URL expiry clamped to the credentials in its context, its region rule, its
 * clock.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as TestClock from "effect/TestClock"
import * as AwsCredentials from "../src/AwsCredentials.js"
import { CredentialsError } from "../src/CredentialsError.js"
import * as S3 from "../src/S3.js"
import { registerContract } from "./s3/contract.js"
import { s3ErrorOf } from "./support/s3Errors.js"

registerContract({
  name: "layerMemory",
  layer: () => S3.layerMemory(),
  capabilities: {
    presignFetch: false,
    conditionalWrites: true,
    recreateBucket: "ok",
    send: false,
    manyKeys: 2500,
    copyOntoItselfRefused: true,
    copyConditions: true,
    encodedSigning: true
  }
})

const expiring = (minutes: number) =>
  AwsCredentials.layerStatic({
    accessKeyId: "ASIAMEMORY",
    secretAccessKey: "memory-secret",
    sessionToken: "memory-token",
    // The test clock starts at 0.
    expiration: new Date(minutes * 60_000)
  })

describe("S3.layerMemory: what only the in-memory layer has", () => {
  it.effect("presigned URLs are clamped to the expiry of the AwsCredentials the layer is built with", () =>
    Effect.gen(function*() {
      const s3 = yield* S3.S3
      const url = yield* s3.presignGetObject("bucket", "key", { expiresIn: "1 hour" })
      assert.isTrue(Duration.equals(url.expiresIn, Duration.minutes(10)))
      assert.deepStrictEqual(url.clampedBy, Option.some("credentials" as const))
      assert.strictEqual(url.expiresAt.epochMillis, 600_000)
      assert.match(url.url, /^https:\/\/memory\.s3\.invalid\/bucket\/key\?/)
    }).pipe(Effect.provide(S3.layerMemory().pipe(Layer.provide(expiring(10))))))

  it.effect("credentials that cannot be had fail a presign with their CredentialsError, as S3.layer's do", () =>
    Effect.gen(function*() {
      const s3 = yield* S3.S3
      const error = yield* Effect.flip(s3.presignGetObject("bucket", "key"))
      assert.strictEqual(error._tag, "CredentialsError")
      const caught = yield* s3.presignPutObject("bucket", "key").pipe(
        Effect.map(() => "signed"),
        Effect.catchTag("CredentialsError", (e) => Effect.succeed(`${e.source} ${e.reason}`))
      )
      assert.strictEqual(caught, "sso TokenExpired")
    }).pipe(Effect.provide(S3.layerMemory().pipe(Layer.provide(Layer.succeed(
      AwsCredentials.AwsCredentials,
      AwsCredentials.make({
        get: Effect.fail(new CredentialsError({ source: "sso", reason: "TokenExpired", detail: "run aws sso login" }))
      })
    ))))))

  it.effect("memory answers with the SDK backend's reasons: BucketNotEmpty, InvalidRange, NotImplemented, InvalidArgument", () =>
    Effect.gen(function*() {
      const s3 = yield* S3.S3
      yield* s3.createBucket("reasons")
      yield* s3.putObject("reasons", "k", "0123456789")
      const notEmpty = s3ErrorOf(yield* Effect.flip(s3.deleteBucket("reasons")))
      assert.deepStrictEqual([notEmpty.reason, notEmpty.code, notEmpty.status], ["BucketNotEmpty", "BucketNotEmpty", 409])
      const range = s3ErrorOf(yield* Effect.flip(s3.getObjectText("reasons", "k", { range: { start: 10 } })))
      assert.deepStrictEqual([range.reason, range.code, range.status], ["InvalidRange", "InvalidRange", 416])
      const notImplemented = s3ErrorOf(yield* Effect.flip(s3.putObject("reasons", "k", "v", { ifNoneMatch: "\"etag\"" })))
      assert.deepStrictEqual([notImplemented.reason, notImplemented.status], ["NotImplemented", 501])
      const emptyKey = s3ErrorOf(yield* Effect.flip(s3.putObject("reasons", "", "v")))
      assert.deepStrictEqual([emptyKey.reason, emptyKey.code], ["InvalidArgument", "InvalidArgument"])
    }).pipe(Effect.provide(S3.layerMemory())))

  it.effect("without credentials, a URL lives as long as asked (up to 7 days)", () =>
    Effect.gen(function*() {
      const s3 = yield* S3.S3
      const url = yield* s3.presignPutObject("bucket", "key", { expiresIn: "2 hours" })
      assert.isTrue(Duration.equals(url.expiresIn, Duration.hours(2)))
      assert.isTrue(Option.isNone(url.clampedBy))
    }).pipe(Effect.provide(S3.layerMemory())))

  it.effect("outside us-east-1, creating your own bucket again is BucketAlreadyOwnedByYou; headBucket has the region", () =>
    Effect.gen(function*() {
      const s3 = yield* S3.S3
      yield* s3.createBucket("regional")
      const error = s3ErrorOf(yield* Effect.flip(s3.createBucket("regional")))
      assert.strictEqual(error.reason, "BucketAlreadyOwnedByYou")
      assert.strictEqual(error.status, 409)
      assert.deepStrictEqual((yield* s3.headBucket("regional")).region, Option.some("eu-west-1"))
    }).pipe(Effect.provide(S3.layerMemory({ region: "eu-west-1" }))))

  it.effect("timestamps come from the Clock (TestClock here)", () =>
    Effect.gen(function*() {
      const s3 = yield* S3.S3
      yield* s3.createBucket("clocked")
      yield* TestClock.adjust("90 seconds")
      yield* s3.putObject("clocked", "k", "v")
      const head = Option.getOrThrow(yield* s3.headObject("clocked", "k"))
      assert.strictEqual(head.lastModified.epochMillis, 90_000)
      const bucket = (yield* s3.listBuckets)[0]!
      assert.deepStrictEqual(Option.map(bucket.creationDate, (d) => d.epochMillis), Option.some(0))
    }).pipe(Effect.provide(S3.layerMemory())))

  it.effect("bucket names follow S3's rules; keys longer than 1,024 bytes are refused", () =>
    Effect.gen(function*() {
      const s3 = yield* S3.S3
      for (const name of ["ab", "Upper", "under_score", "-dash", "a..b", "192.168.1.1"]) {
        const error = s3ErrorOf(yield* Effect.flip(s3.createBucket(name)))
        assert.strictEqual(error.code, "InvalidBucketName", name)
      }
      yield* s3.createBucket("fine-name.1")
      const long = s3ErrorOf(yield* Effect.flip(s3.putObject("fine-name.1", "é".repeat(513), "x")))
      assert.strictEqual(long.code, "KeyTooLongError")
    }).pipe(Effect.provide(S3.layerMemory())))

  it.effect("each layer build starts empty", () =>
    Effect.gen(function*() {
      yield* Effect.flatMap(S3.S3, (s3) => s3.createBucket("first")).pipe(Effect.provide(S3.layerMemory()))
      const buckets = yield* Effect.flatMap(S3.S3, (s3) => s3.listBuckets).pipe(Effect.provide(S3.layerMemory()))
      assert.deepStrictEqual(buckets, [])
    }))
})
