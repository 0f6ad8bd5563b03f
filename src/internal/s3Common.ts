/**
 * What the S3 backends (SDK, memory) and the service assembled from them (`s3Service.ts`)
 * share: spans on every operation, byte ranges, reading a body into memory under a cap, presign
 * expiry clamping, and the helper they all build `S3Error`s with.
 */
import * as Chunk from "effect/Chunk"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import type { AwsCredentials } from "../AwsCredentials.js"
import type * as Credentials from "../Credentials.js"
import type { CredentialsError } from "../CredentialsError.js"
import { defaults } from "../S3Model.js"
import type * as S3 from "../S3Model.js"
import { S3Error, type Reason } from "../S3Error.js"

/** SigV4's longest presigned URL lifetime (7 days). */
const maxPresignSeconds = 604_800

/** S3's smallest part (except the last). */
export const minPartSize = 5 * 1024 * 1024

/** S3's most parts per upload. */
export const maxParts = 10_000

/** Keys per `DeleteObjects` request (S3's limit). */
export const deleteBatchSize = 1000

/** The `Range` header for a range. */
export const rangeHeader = (range: S3.Range): string =>
  "last" in range
    ? `bytes=-${range.last}`
    : `bytes=${range.start}-${range.end === undefined ? "" : range.end}`

/** Parses `Content-Range: bytes 0-9/100`. */
export const parseContentRange = (header: string | undefined): Option.Option<S3.ByteRange> => {
  if (header === undefined) return Option.none()
  const match = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(header.trim())
  if (match === null) return Option.none()
  const size = match[3] === "*" ? Number.NaN : Number(match[3])
  return Option.some({ start: Number(match[1]), end: Number(match[2]), size })
}

/**
 * Compares keys the way S3 orders them: by their UTF-8 bytes. UTF-16 code unit order (what `<`
 * compares) only differs from it between a surrogate pair and a character from U+E000 to
 * U+FFFF, so strings without those compare directly.
 */
export const compareKeys = (a: string, b: string): number => {
  if (a === b) return 0
  if (!highCodeUnits.test(a) || !highCodeUnits.test(b)) return a < b ? -1 : 1
  return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"))
}

const highCodeUnits = /[\ud800-\uffff]/

/** An `S3Error` with the context of one call. */
export interface CallContext {
  readonly operation: string
  readonly bucket?: string | undefined
  readonly key?: string | undefined
}

export const failure = (
  context: CallContext,
  fields: {
    readonly reason: Reason
    readonly detail: string
    readonly code?: string | undefined
    readonly status?: number | undefined
    readonly requestId?: string | undefined
  }
): S3Error =>
  new S3Error({
    operation: context.operation,
    bucket: context.bucket,
    key: context.key,
    ...fields
  })

/**
 * A `getObject` body as both layers hand it out: it streams once, inside the scope `getObject`
 * ran in. Reading it again, or after that scope closed, fails at once with a typed error (a
 * network body cannot be replayed, and one whose connection was released would otherwise wait
 * forever); the in-memory layer follows the same rule so that tests written against it hold
 * on a real server.
 */
export const singleUseBody = (
  context: CallContext,
  body: Stream.Stream<Uint8Array, S3Error>,
  released: () => boolean
): Stream.Stream<Uint8Array, S3Error> => {
  let taken = false
  return Stream.suspend(() => {
    if (released()) {
      return Stream.fail(failure(context, {
        reason: "BodyReleased",
        code: "BodyReleased",
        detail: "the body was read after the scope getObject ran in had closed (which releases it); " +
          "read it inside that scope"
      }))
    }
    if (taken) {
      return Stream.fail(failure(context, {
        reason: "BodyConsumed",
        code: "BodyConsumed",
        detail: "the body was already read: it streams once; call getObject again to read it again"
      }))
    }
    taken = true
    return body
  })
}

/** Checks `upload`'s part size and concurrency. */
export const uploadSettings = (
  context: CallContext,
  options: S3.UploadOptions | undefined,
  defaults: { readonly partSize: number; readonly concurrency: number }
): Effect.Effect<{ readonly partSize: number; readonly concurrency: number }, S3Error> => {
  const partSize = options?.partSize ?? defaults.partSize
  const concurrency = options?.concurrency ?? defaults.concurrency
  if (!Number.isSafeInteger(partSize) || partSize < minPartSize) {
    return Effect.fail(failure(context, {
      reason: "InvalidArgument",
      code: "InvalidArgument",
      detail: `partSize must be a whole number of bytes, at least ${minPartSize} (5 MiB, S3's minimum part size); got ${partSize}`
    }))
  }
  if (!Number.isSafeInteger(concurrency) || concurrency < 1) {
    return Effect.fail(failure(context, {
      reason: "InvalidArgument",
      code: "InvalidArgument",
      detail: `concurrency must be a whole number of at least 1; got ${concurrency}`
    }))
  }
  return Effect.succeed({ partSize, concurrency })
}

/** `getObjectText` / `getObjectBytes` over their cap. */
export const tooLarge = (context: CallContext, size: number, maxBytes: number): Effect.Effect<never, S3Error> =>
  Effect.fail(failure(context, {
    reason: "TooLarge",
    code: "MaxBytesExceeded",
    detail: `the object has ${size} bytes, more than the cap of ${maxBytes} (maxBytes); ` +
      `read it with getObject as a stream, or raise maxBytes`
  }))

/**
 * Reads a whole body into memory, failing (before reading anything) when the object is larger
 * than `maxBytes`, and while reading if the body turns out longer than announced.
 */
export const readBody = (
  context: CallContext,
  result: S3.GetObjectResult,
  maxBytes: number
): Effect.Effect<Uint8Array, S3Error> => {
  if (result.contentLength > maxBytes) return tooLarge(context, result.contentLength, maxBytes)
  return result.body.pipe(
    Stream.runFoldEffect(
      { chunks: Chunk.empty<Uint8Array>(), size: 0 },
      (acc, bytes) =>
        acc.size + bytes.length > maxBytes
          ? tooLarge(context, acc.size + bytes.length, maxBytes)
          : Effect.succeed({ chunks: Chunk.append(acc.chunks, bytes), size: acc.size + bytes.length })
    ),
    Effect.map(({ chunks, size }) => {
      const out = new Uint8Array(size)
      let offset = 0
      for (const bytes of chunks) {
        out.set(bytes, offset)
        offset += bytes.length
      }
      return out
    })
  )
}

/** What `presignLifetime` decides. */
export interface PresignLifetime {
  readonly seconds: number
  readonly requested: Duration.Duration
  readonly expiresAt: DateTime.Utc
  readonly clampedBy: Option.Option<"credentials" | "maximum">
}

/** A signed URL with the lifetime it was signed for, as both layers return it. */
export const presignedUrl = (url: string, method: "GET" | "PUT", lifetime: PresignLifetime): S3.PresignedUrl => ({
  url,
  method,
  expiresAt: lifetime.expiresAt,
  expiresIn: Duration.seconds(lifetime.seconds),
  requested: lifetime.requested,
  clampedBy: lifetime.clampedBy
})

/** How long a presigned URL may live, given the credentials' expiry. */
export const presignLifetime = (options: {
  readonly context: CallContext
  readonly requested: S3.PresignOptions["expiresIn"]
  readonly now: DateTime.Utc
  readonly credentialsExpiry: Option.Option<DateTime.Utc>
}): Effect.Effect<PresignLifetime, S3Error> => {
  const requested = options.requested === undefined
    ? Duration.seconds(defaults.presignExpiresInSeconds)
    : Duration.decode(options.requested)
  const requestedSeconds = Math.floor(Duration.toSeconds(requested))
  if (!Number.isFinite(requestedSeconds) || requestedSeconds < 1) {
    return Effect.fail(failure(options.context, {
      reason: "InvalidArgument",
      code: "InvalidArgument",
      detail: `expiresIn must be at least one second; got ${Duration.format(requested)}`
    }))
  }
  let seconds = requestedSeconds
  let clampedBy: Option.Option<"credentials" | "maximum"> = Option.none()
  if (seconds > maxPresignSeconds) {
    seconds = maxPresignSeconds
    clampedBy = Option.some("maximum")
  }
  if (Option.isSome(options.credentialsExpiry)) {
    const left = Math.floor(
      (DateTime.toEpochMillis(options.credentialsExpiry.value) - DateTime.toEpochMillis(options.now)) / 1000
    )
    if (left < 1) {
      return Effect.fail(failure(options.context, {
        reason: "ExpiredToken",
        detail: `the credentials expire at ${DateTime.formatIso(options.credentialsExpiry.value)}, ` +
          `too soon to sign a URL with them`
      }))
    }
    if (left < seconds) {
      seconds = left
      clampedBy = Option.some("credentials")
    }
  }
  return Effect.succeed({
    seconds,
    requested,
    expiresAt: DateTime.add(options.now, { seconds }),
    clampedBy
  })
}

/**
 * The expiry of the credentials `AwsCredentials` serves now, if it is in the context. Credentials
 * that cannot be had fail with `AwsCredentials.get`'s error, as signing with them would.
 */
export const credentialsExpiry = (
  service: Option.Option<AwsCredentials["Type"]>
): Effect.Effect<Option.Option<DateTime.Utc>, CredentialsError> =>
  Option.match(service, {
    onNone: () => Effect.succeedNone,
    onSome: (credentials) => Effect.map(credentials.get, (current: Credentials.Credentials) => current.expiration)
  })

/** Splits keys into batches of `size`. */
export const batches = <A>(items: Iterable<A>, size: number): Array<Array<A>> => {
  const out: Array<Array<A>> = []
  let current: Array<A> = []
  for (const item of items) {
    current.push(item)
    if (current.length === size) {
      out.push(current)
      current = []
    }
  }
  if (current.length > 0) out.push(current)
  return out
}

/** Normalizes an entity tag for comparisons: with its quotes. */
export const quoteEtag = (etag: string): string => (etag.startsWith("\"") || etag.startsWith("W/") ? etag : `"${etag}"`)

// ---------------------------------------------------------------------------------------------
// Spans
// ---------------------------------------------------------------------------------------------

const attributes = (bucket: string | undefined, key?: string | undefined): Record<string, unknown> => {
  const out: Record<string, unknown> = { "rpc.system": "aws-api", "rpc.service": "S3" }
  if (bucket !== undefined) out["aws.s3.bucket"] = bucket
  if (key !== undefined) out["aws.s3.key"] = key
  return out
}

// No stack trace per span: capturing one costs more than the rest of the span.
const span = (name: string, bucket?: string, key?: string) =>
  Effect.withSpan(`S3.${name}`, { kind: "client", attributes: attributes(bucket, key), captureStackTrace: false })

const streamSpan = (name: string, bucket: string) =>
  Stream.withSpan(`S3.${name}`, { kind: "client", attributes: attributes(bucket), captureStackTrace: false })

/**
 * The same service with a span around every operation, named `S3.<operation>` and carrying
 * `aws.s3.bucket` / `aws.s3.key` (OpenTelemetry's semantic conventions for S3).
 */
export const instrument = (service: S3.Service): S3.Service => ({
  listBuckets: service.listBuckets.pipe(span("listBuckets")),
  createBucket: (bucket, options) => service.createBucket(bucket, options).pipe(span("createBucket", bucket)),
  headBucket: (bucket) => service.headBucket(bucket).pipe(span("headBucket", bucket)),
  deleteBucket: (bucket) => service.deleteBucket(bucket).pipe(span("deleteBucket", bucket)),
  putObject: ((bucket: string, key: string, body: never, options?: S3.PutOptions) =>
    service.putObject(bucket, key, body, options as never).pipe(span("putObject", bucket, key))) as S3.PutObject,
  getObject: (bucket, key, options) => service.getObject(bucket, key, options).pipe(span("getObject", bucket, key)),
  getObjectText: (bucket, key, options) =>
    service.getObjectText(bucket, key, options).pipe(span("getObjectText", bucket, key)),
  getObjectBytes: (bucket, key, options) =>
    service.getObjectBytes(bucket, key, options).pipe(span("getObjectBytes", bucket, key)),
  headObject: (bucket, key) => service.headObject(bucket, key).pipe(span("headObject", bucket, key)),
  deleteObject: (bucket, key) => service.deleteObject(bucket, key).pipe(span("deleteObject", bucket, key)),
  deleteObjects: (bucket, keys) => service.deleteObjects(bucket, keys).pipe(span("deleteObjects", bucket)),
  copyObject: (source, target, options) =>
    service.copyObject(source, target, options).pipe(
      Effect.withSpan("S3.copyObject", {
        kind: "client",
        attributes: {
          ...attributes(target.bucket, target.key),
          "aws.s3.copy_source": `${source.bucket}/${source.key}`
        },
        captureStackTrace: false
      })
    ),
  listObjects: (bucket, options) => service.listObjects(bucket, options).pipe(streamSpan("listObjects", bucket)),
  listPages: (bucket, options) => service.listPages(bucket, options).pipe(streamSpan("listPages", bucket)),
  upload: (bucket, key, body, options) => service.upload(bucket, key, body, options).pipe(span("upload", bucket, key)),
  listMultipartUploads: (bucket, options) =>
    service.listMultipartUploads(bucket, options).pipe(span("listMultipartUploads", bucket)),
  abortMultipartUpload: (bucket, key, uploadId) =>
    service.abortMultipartUpload(bucket, key, uploadId).pipe(span("abortMultipartUpload", bucket, key)),
  presignGetObject: (bucket, key, options) =>
    service.presignGetObject(bucket, key, options).pipe(span("presignGetObject", bucket, key)),
  presignPutObject: (bucket, key, options) =>
    service.presignPutObject(bucket, key, options).pipe(span("presignPutObject", bucket, key)),
  send: (command) => {
    const input = command.input as { readonly Bucket?: unknown; readonly Key?: unknown }
    return service.send(command).pipe(
      span(
        "send",
        typeof input.Bucket === "string" ? input.Bucket : undefined,
        typeof input.Key === "string" ? input.Key : undefined
      )
    )
  }
})
