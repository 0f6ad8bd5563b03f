/**
 * `S3.layer({ compat: "s3-compatible" })` against OpenStack Swift's S3 layer, a strict S3 that
 * verifies SigV4 signatures, presigned URLs and their expiry, and the payload hash: the shared
 * contract for what Swift implements, then presigned URLs expiring, what the preset changes, and
 * the payload hash being checked.
 *
 * Swift comes from test/services/swift.ts (`startSwift`), loaded dynamically: without it, or
 * without a Swift that can start, the suites skip with the reason, and under `CI=true` that is a
 * failure.
 */
import { PutObjectCommand } from "@aws-sdk/client-s3"
import { afterAll, assert, describe, it } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as AwsCredentials from "../../src/AwsCredentials.js"
import * as AwsRegion from "../../src/AwsRegion.js"
import * as S3 from "../../src/S3.js"
import { registerContract } from "../s3/contract.js"
import { getFailure } from "../support/fixtures.js"
import { s3ErrorOf } from "../support/s3Errors.js"

/** The shape of test/services/swift.ts that this file uses. */
interface SwiftServer {
  readonly endpoint: string
  readonly accessKeyId: string
  readonly secretAccessKey: string
  readonly stop: () => Promise<void>
}

const start = async (): Promise<{ readonly swift?: SwiftServer; readonly skipReason?: string }> => {
  let module: { readonly startSwift: () => Promise<SwiftServer> }
  try {
    module = await import("./swift.js")
  } catch (error) {
    const reason = `test/services/swift.ts could not be loaded (${error instanceof Error ? error.message : String(error)})`
    if (process.env.CI === "true") throw new Error(`CI=true but ${reason}`)
    return { skipReason: reason }
  }
  try {
    return { swift: await module.startSwift() }
  } catch (error) {
    // swift.ts already turns an unavailable Swift into a plain Error under CI=true.
    if (process.env.CI === "true") throw error
    const reason = (error as { readonly reason?: unknown }).reason
    return { skipReason: typeof reason === "string" ? reason : error instanceof Error ? error.message : String(error) }
  }
}

const started = await start()
afterAll(() => started.swift?.stop())

const skip = started.skipReason
const suite = started.swift === undefined ? describe.skip : describe
const suffix = skip === undefined ? "" : ` (skipped: ${skip})`

const swift = (): SwiftServer => {
  if (started.swift === undefined) throw new Error("Swift is not running")
  return started.swift
}

const keys = () => AwsCredentials.layerStatic({ accessKeyId: swift().accessKeyId, secretAccessKey: swift().secretAccessKey })

const s3Layer = (options: S3.Options = {}, credentials = keys()) =>
  S3.layer({ endpoint: swift().endpoint, compat: "s3-compatible", maxAttempts: 2, ...options }).pipe(
    Layer.provide(Layer.merge(credentials, AwsRegion.layerStatic("us-east-1")))
  )

registerContract({
  name: "Swift (s3-compatible preset)",
  layer: () => s3Layer(),
  capabilities: {
    presignFetch: true,
    // "Conditional object PUTs are not supported" (501).
    conditionalWrites: false,
    recreateBucket: "BucketAlreadyOwnedByYou",
    send: true,
    // About 40 PUT/s: batching past 1,000 keys is covered on moto and in memory.
    manyKeys: 200,
    copyOntoItselfRefused: true,
    copyConditions: true,
    encodedSigning: true
  },
  skip
})

/** Runs `use` in a fresh bucket on Swift, removed afterwards. */
const inBucket = <A, E>(use: (s3: S3.Service, bucket: string) => Effect.Effect<A, E, S3.S3>, options?: S3.Options) =>
  Effect.gen(function*() {
    const s3 = yield* S3.S3
    const bucket = `swift-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e6)}`
    yield* s3.createBucket(bucket)
    return yield* use(s3, bucket).pipe(
      Effect.ensuring(
        Effect.gen(function*() {
          const listed = yield* Stream.runCollect(Stream.map(s3.listObjects(bucket), (o) => o.key))
          yield* s3.deleteObjects(bucket, listed)
          yield* s3.deleteBucket(bucket)
        }).pipe(Effect.ignore)
      )
    )
  }).pipe(Effect.provide(s3Layer(options)))

suite(`S3 on Swift: presigned URLs, the s3-compatible preset, the payload hash${suffix}`, () => {
  it.scopedLive("a presigned GET works until its expiry, then Swift refuses it", () =>
    inBucket((s3, bucket) =>
      Effect.gen(function*() {
        yield* s3.putObject(bucket, "short-lived", "for a moment")
        const signed = yield* s3.presignGetObject(bucket, "short-lived", { expiresIn: "2 seconds" })
        assert.isTrue(Duration.equals(signed.expiresIn, Duration.seconds(2)))
        const now = yield* DateTime.now
        assert.isAtMost(DateTime.distance(now, signed.expiresAt), 2_000)
        const fresh = yield* Effect.promise(() => fetch(signed.url))
        assert.strictEqual(fresh.status, 200)
        assert.strictEqual(yield* Effect.promise(() => fresh.text()), "for a moment")
        yield* Effect.sleep(Duration.millis(3_500))
        const late = yield* Effect.promise(() => fetch(signed.url))
        const body = yield* Effect.promise(() => late.text())
        assert.strictEqual(late.status, 403)
        assert.include(body, "AccessDenied")
      })
    ), 30_000)

  it.scopedLive("a presigned PUT uploads, and a tampered URL is refused", () =>
    inBucket((s3, bucket) =>
      Effect.gen(function*() {
        const signed = yield* s3.presignPutObject(bucket, "via-url.txt", { expiresIn: "1 minute" })
        const put = yield* Effect.promise(() => fetch(signed.url, { method: "PUT", body: "uploaded with a URL" }))
        assert.strictEqual(put.status, 200)
        assert.strictEqual(yield* s3.getObjectText(bucket, "via-url.txt"), "uploaded with a URL")
        const tampered = signed.url.replace("via-url.txt", "other.txt")
        const refused = yield* Effect.promise(() => fetch(tampered, { method: "PUT", body: "x" }))
        assert.strictEqual(refused.status, 403)
      })
    ))

  it.scopedLive("the preset is what Swift needs: with compat \"aws\", a streamed upload is refused (aws-chunked)", () =>
    Effect.gen(function*() {
      const body = Stream.succeed(new Uint8Array(1000).fill(1))
      const awsDefaults = yield* Effect.exit(
        inBucket((s3, bucket) => s3.putObject(bucket, "streamed", body, { contentLength: 1000 }), {
          compat: "aws",
          forcePathStyle: true
        })
      )
      const error = getFailure(awsDefaults) as S3.S3Error
      assert.strictEqual(error._tag, "S3Error")
      assert.strictEqual(error.status, 501)
      const preset = yield* inBucket((s3, bucket) =>
        Effect.zipRight(
          s3.putObject(bucket, "streamed", body, { contentLength: 1000 }),
          s3.getObjectBytes(bucket, "streamed")
        )
      )
      assert.strictEqual(preset.length, 1000)
    }))

  it.scopedLive("the preset adds Content-MD5 to DeleteObjects: Swift deletes in batches", () =>
    inBucket((s3, bucket) =>
      Effect.gen(function*() {
        yield* Effect.forEach(["a", "b", "c"], (key) => s3.putObject(bucket, key, key), { discard: true })
        const result = yield* s3.deleteObjects(bucket, ["a", "b", "c", "missing"])
        assert.deepStrictEqual(result, { deleted: 4, errors: [] })
        assert.isTrue(Option.isNone(yield* s3.headObject(bucket, "a")))
      })
    ))

  it.scopedLive("the payload hash is signed and checked: a body changed after signing is BadDigest", () =>
    inBucket((s3, bucket) =>
      Effect.gen(function*() {
        const signedOnce = yield* s3.putObject(bucket, "hashed", "the signed body")
        assert.isString(signedOnce.etag)
        const command = new PutObjectCommand({ Bucket: bucket, Key: "tampered", Body: "the signed body" })
        // After signing (the SHA-256 of the body is in x-amz-content-sha256), swap the body.
        command.middlewareStack.add(
          (next) => (args) => {
            const request = args.request as { body?: unknown; headers: Record<string, string> }
            // Same length, so that the signed Content-Length still holds: only the hash differs.
            request.body = "THE SIGNED BODY"
            return next(args)
          },
          { step: "finalizeRequest", priority: "low", name: "tamperAfterSigning" }
        )
        const error = s3ErrorOf(getFailure(yield* Effect.exit(s3.send(command))))
        assert.strictEqual(error.code, "BadDigest")
        assert.strictEqual(error.status, 400)
        assert.isTrue(Option.isNone(yield* s3.headObject(bucket, "tampered")))
      })
    ))

  it.scopedLive("a wrong secret: SignatureDoesNotMatch", () =>
    Effect.gen(function*() {
      const wrong = AwsCredentials.layerStatic({ accessKeyId: swift().accessKeyId, secretAccessKey: "not-the-secret" })
      const error = s3ErrorOf(getFailure(yield* Effect.exit(Effect.flatMap(S3.S3, (s3) => s3.listBuckets).pipe(Effect.provide(s3Layer({}, wrong))))))
      assert.strictEqual(error.reason, "SignatureDoesNotMatch")
      assert.strictEqual(error.status, 403)
    }))
})
