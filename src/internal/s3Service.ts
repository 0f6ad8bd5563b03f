/**
 * The S3 service, derived once from a backend. A backend (the SDK's client in `s3Sdk.ts`, a map
 * in `s3Memory.ts`) implements the primitive operations, one request each: a page of a listing,
 * one batch of deletes, one part. Everything a program sees on top of them is here, the same
 * for both: listings as streams over pages, `deleteObjects` in batches of S3's 1,000, the copy
 * metadata rule, `upload`'s settings and its parts, argument checks, text and bytes reads under
 * a cap, presigned URL lifetimes, and a span around every operation.
 */
import type * as DateTime from "effect/DateTime"
import * as Clock from "effect/Clock"
import * as DateTimeValue from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type { CredentialsError } from "../CredentialsError.js"
import type { S3Error } from "../S3Error.js"
import type * as S3 from "../S3Model.js"
import {
  batches,
  type CallContext,
  deleteBatchSize,
  failure,
  instrument,
  presignedUrl,
  presignLifetime,
  readBody,
  uploadSettings
} from "./s3Common.js"
import * as Upload from "./s3Upload.js"

/** One page of a listing, and where the next one starts (none: this was the last). */
export interface Page<A, Cursor> {
  readonly items: A
  readonly next: Option.Option<Cursor>
}

/** Where `ListMultipartUploads` goes on. */
export interface UploadsMarker {
  readonly keyMarker: string | undefined
  readonly uploadIdMarker: string | undefined
}

/** What a new object's content type and metadata are (`upload`, a replacing copy). */
export interface ObjectAttributes {
  readonly contentType?: string | undefined
  readonly metadata?: Readonly<Record<string, string>> | undefined
}

/** A URL about to be signed: the expiry of the credentials that will sign it, and the signing. */
export interface Presigner {
  readonly credentialsExpiry: Option.Option<DateTime.Utc>
  readonly sign: (seconds: number, now: DateTime.Utc) => Effect.Effect<string, S3Error | CredentialsError>
}

/** The primitive operations of one S3 (every argument already checked by the assembly). */
export interface Backend {
  /** Where `createBucket` creates a bucket unless told. */
  readonly region: string
  /** The layer's defaults for `upload` and the reads into memory. */
  readonly settings: { readonly partSize: number; readonly concurrency: number; readonly maxBytes: number }
  readonly listBuckets: (
    token: Option.Option<string>
  ) => Effect.Effect<Page<ReadonlyArray<S3.BucketInfo>, string>, S3Error | CredentialsError>
  readonly createBucket: (bucket: string, region: string) => Effect.Effect<void, S3Error | CredentialsError>
  readonly headBucket: (bucket: string) => Effect.Effect<S3.BucketHead, S3Error | CredentialsError>
  readonly deleteBucket: (bucket: string) => Effect.Effect<void, S3Error | CredentialsError>
  readonly putBytes: (
    context: CallContext & { readonly bucket: string; readonly key: string },
    body: Uint8Array | string,
    options: S3.PutOptions
  ) => Effect.Effect<S3.PutResult, S3Error | CredentialsError>
  /** A stream of exactly `length` bytes (`s3Common.exactLength` checks it). */
  readonly putStream: <E, R>(
    context: CallContext & { readonly bucket: string; readonly key: string },
    body: Stream.Stream<Uint8Array, S3Error | E, R>,
    length: number,
    options: S3.PutOptions
  ) => Effect.Effect<S3.PutResult, S3Error | CredentialsError | E, R>
  readonly getObject: (
    context: CallContext & { readonly bucket: string; readonly key: string },
    options: S3.GetOptions
  ) => Effect.Effect<S3.GetObjectResult, S3Error | CredentialsError, Scope.Scope>
  /** The whole body into memory, up to `maxBytes`; without it, `getObject` and `readBody`. */
  readonly readObject?: (
    context: CallContext & { readonly bucket: string; readonly key: string },
    options: S3.GetOptions,
    maxBytes: number
  ) => Effect.Effect<Uint8Array, S3Error | CredentialsError>
  /** Fails with `NoSuchKey` / `NoSuchBucket` when there is nothing. */
  readonly headObject: (bucket: string, key: string) => Effect.Effect<S3.ObjectHead, S3Error | CredentialsError>
  readonly deleteObject: (bucket: string, key: string) => Effect.Effect<void, S3Error | CredentialsError>
  /** One `DeleteObjects` request (at most 1,000 keys); the keys refused. */
  readonly deleteBatch: (
    bucket: string,
    keys: ReadonlyArray<string>
  ) => Effect.Effect<ReadonlyArray<S3.DeleteFailure>, S3Error | CredentialsError>
  /** `replace`: the new object's attributes (S3's `REPLACE` directive); none copies the source's. */
  readonly copyObject: (
    source: S3.ObjectRef,
    target: S3.ObjectRef,
    options: { readonly ifMatch: string | undefined; readonly replace: Option.Option<ObjectAttributes> }
  ) => Effect.Effect<S3.CopyResult, S3Error | CredentialsError>
  readonly listObjects: (
    bucket: string,
    options: S3.ListOptions,
    token: Option.Option<string>
  ) => Effect.Effect<Page<S3.ListPage, string>, S3Error | CredentialsError>
  readonly createMultipartUpload: (
    bucket: string,
    key: string,
    attributes: ObjectAttributes
  ) => Effect.Effect<string, S3Error | CredentialsError>
  readonly uploadPart: (
    bucket: string,
    key: string,
    uploadId: string,
    partNumber: number,
    bytes: Uint8Array
  ) => Effect.Effect<Upload.CompletedPart, S3Error | CredentialsError>
  readonly completeMultipartUpload: (
    bucket: string,
    key: string,
    uploadId: string,
    parts: ReadonlyArray<Upload.CompletedPart>
  ) => Effect.Effect<S3.PutResult, S3Error | CredentialsError>
  readonly abortMultipartUpload: (
    bucket: string,
    key: string,
    uploadId: string
  ) => Effect.Effect<void, S3Error | CredentialsError>
  readonly listMultipartUploads: (
    bucket: string,
    prefix: string | undefined,
    marker: Option.Option<UploadsMarker>
  ) => Effect.Effect<Page<ReadonlyArray<S3.MultipartUploadInfo>, UploadsMarker>, S3Error | CredentialsError>
  /** Takes the credentials a URL is signed with (and so their expiry). */
  readonly presigner: (
    context: CallContext & { readonly bucket: string; readonly key: string },
    method: "GET" | "PUT"
  ) => Effect.Effect<Presigner, S3Error | CredentialsError>
  readonly send: <Output>(command: S3.SdkCommand<Output>) => Effect.Effect<Output, S3Error | CredentialsError>
}

/** Every item of every page, in order. */
const allPages = <A, Cursor, E>(
  page: (cursor: Option.Option<Cursor>) => Effect.Effect<Page<ReadonlyArray<A>, Cursor>, E>
): Effect.Effect<ReadonlyArray<A>, E> =>
  Effect.gen(function*() {
    const out: Array<A> = []
    let cursor = Option.none<Cursor>()
    do {
      const current = yield* page(cursor)
      out.push(...current.items)
      cursor = current.next
    } while (Option.isSome(cursor))
    return out
  })

/** The page stream of a listing. */
const pages = <A, E>(
  page: (token: Option.Option<string>) => Effect.Effect<Page<A, string>, E>
): Stream.Stream<A, E> =>
  Stream.paginateEffect(
    Option.none<string>(),
    (token) => Effect.map(page(token), (current) => [current.items, Option.map(current.next, Option.some)] as const)
  )

/** A byte range the server could be asked for: whole numbers, `end` not before `start`. */
const checkRange = (context: CallContext, range: S3.Range | undefined): Effect.Effect<void, S3Error | CredentialsError> => {
  if (range === undefined) return Effect.void
  const ok = "last" in range
    ? Number.isSafeInteger(range.last) && range.last >= 1
    : Number.isSafeInteger(range.start) && range.start >= 0 &&
      (range.end === undefined || (Number.isSafeInteger(range.end) && range.end >= range.start))
  return ok ? Effect.void : Effect.fail(failure(context, {
    reason: "InvalidArgument",
    code: "InvalidArgument",
    detail: `not a byte range: ${JSON.stringify(range)} (start >= 0, end >= start, last >= 1, whole numbers)`
  }))
}

const putObject = (backend: Backend) =>
<E, R>(
  bucket: string,
  key: string,
  body: Uint8Array | string | Stream.Stream<Uint8Array, E, R>,
  options: S3.PutOptions = {}
): Effect.Effect<S3.PutResult, S3Error | CredentialsError | E, R> => {
  const context = { operation: "PutObject", bucket, key }
  if (typeof body === "string" || body instanceof Uint8Array) return backend.putBytes(context, body, options)
  const length = options.contentLength
  if (length === undefined || !Number.isSafeInteger(length) || length < 0) {
    return Effect.fail(failure(context, {
      reason: "InvalidArgument",
      code: "MissingContentLength",
      detail: "a stream body needs its length in bytes (contentLength); for a stream of unknown length use upload"
    }))
  }
  return backend.putStream(context, exactLength(context, body, length), length, options)
}

/** A stream body that fails with `BodyLengthMismatch` as soon as it is not `length` bytes long. */
const exactLength = <E, R>(
  context: CallContext,
  body: Stream.Stream<Uint8Array, E, R>,
  length: number
): Stream.Stream<Uint8Array, S3Error | CredentialsError | E, R> =>
  Stream.suspend(() => {
    let seen = 0
    return body.pipe(
      Stream.mapEffect((bytes) => {
        seen += bytes.length
        return seen > length
          ? Effect.fail(failure(context, {
            reason: "InvalidArgument",
            code: "BodyLengthMismatch",
            detail: `the body stream is longer than contentLength (${length} bytes)`
          }))
          : Effect.succeed(bytes)
      }),
      Stream.concat(Stream.suspend(() =>
        seen === length ? Stream.empty : Stream.fail(failure(context, {
          reason: "InvalidArgument",
          code: "BodyLengthMismatch",
          detail: `the body stream ended after ${seen} bytes, short of contentLength (${length} bytes)`
        }))
      ))
    )
  })

const read = (backend: Backend) => (bucket: string, key: string, options: S3.ReadOptions = {}) => {
  const context = { operation: "GetObject", bucket, key }
  const maxBytes = options.maxBytes ?? backend.settings.maxBytes
  const whole = backend.readObject === undefined
    ? Effect.scoped(Effect.flatMap(backend.getObject(context, options), (result) => readBody(context, result, maxBytes)))
    : backend.readObject(context, options, maxBytes)
  return Effect.zipRight(checkRange(context, options.range), whole)
}

const upload = (backend: Backend) =>
<E, R>(
  bucket: string,
  key: string,
  body: Uint8Array | string | Stream.Stream<Uint8Array, E, R>,
  options: S3.UploadOptions = {}
): Effect.Effect<S3.UploadResult, S3Error | CredentialsError | E, R> => {
  const context = { operation: "Upload", bucket, key }
  const attributes = { contentType: options.contentType, metadata: options.metadata }
  const parts: Upload.Backend = {
    putObject: (bytes) => backend.putBytes({ operation: "PutObject", bucket, key }, bytes, attributes),
    create: backend.createMultipartUpload(bucket, key, attributes),
    uploadPart: (uploadId, partNumber, bytes) =>
      backend.uploadPart(bucket, key, uploadId, partNumber, bytes).pipe(
        Effect.withSpan("S3.uploadPart", {
          kind: "client",
          attributes: { "aws.s3.bucket": bucket, "aws.s3.key": key, "aws.s3.part_number": partNumber },
          captureStackTrace: false
        })
      ),
    complete: (uploadId, completed) => backend.completeMultipartUpload(bucket, key, uploadId, completed),
    abort: (uploadId) => backend.abortMultipartUpload(bucket, key, uploadId)
  }
  return Effect.flatMap(
    uploadSettings(context, options, backend.settings),
    (settings) => Upload.upload(context, parts, body, settings)
  )
}

const presign = (backend: Backend, method: "GET" | "PUT") =>
(
  bucket: string,
  key: string,
  options: S3.PresignOptions = {}
): Effect.Effect<S3.PresignedUrl, S3Error | CredentialsError> =>
  Effect.gen(function*() {
    const context = { operation: method === "GET" ? "GetObject" : "PutObject", bucket, key }
    const presigner = yield* backend.presigner(context, method)
    const now = DateTimeValue.unsafeMake(yield* Clock.currentTimeMillis)
    const lifetime = yield* presignLifetime({
      context,
      requested: options.expiresIn,
      now,
      credentialsExpiry: presigner.credentialsExpiry
    })
    return presignedUrl(yield* presigner.sign(lifetime.seconds, now), method, lifetime)
  })

const deleteObjects = (backend: Backend) => (bucket: string, keys: Iterable<string>) =>
  Effect.gen(function*() {
    let deleted = 0
    const errors: Array<S3.DeleteFailure> = []
    for (const batch of batches(keys, deleteBatchSize)) {
      const refused = yield* backend.deleteBatch(bucket, batch)
      errors.push(...refused)
      deleted += batch.length - refused.length
    }
    return { deleted, errors }
  })

const copyObject = (backend: Backend) => (source: S3.ObjectRef, target: S3.ObjectRef, options: S3.CopyOptions = {}) =>
  backend.copyObject(source, target, {
    ifMatch: options.ifMatch,
    // A new content type replaces the metadata too, as S3's `REPLACE` directive does.
    replace: options.metadata !== undefined || options.contentType !== undefined
      ? Option.some({ contentType: options.contentType, metadata: options.metadata ?? {} })
      : Option.none()
  })

const headObject = (backend: Backend) => (bucket: string, key: string) =>
  backend.headObject(bucket, key).pipe(
    Effect.map(Option.some),
    Effect.catchIf((error) => error.reason === "NoSuchKey" || error.reason === "NoSuchBucket", () => Effect.succeedNone)
  )

/** The service of `backend`. */
export const make = (backend: Backend): S3.Service => {
  const listPages = (bucket: string, options: S3.ListOptions = {}) =>
    pages((token) => backend.listObjects(bucket, options, token))
  const readBytes = read(backend)
  return instrument({
    listBuckets: allPages(backend.listBuckets),
    createBucket: (bucket, options) => backend.createBucket(bucket, options?.region ?? backend.region),
    headBucket: backend.headBucket,
    deleteBucket: backend.deleteBucket,
    putObject: putObject(backend) as S3.PutObject,
    getObject: (bucket, key, options = {}) => {
      const context = { operation: "GetObject", bucket, key }
      return Effect.zipRight(checkRange(context, options.range), backend.getObject(context, options))
    },
    getObjectText: (bucket, key, options) =>
      Effect.map(
        readBytes(bucket, key, options),
        (bytes) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString("utf8")
      ),
    getObjectBytes: readBytes,
    headObject: headObject(backend),
    deleteObject: backend.deleteObject,
    deleteObjects: deleteObjects(backend),
    copyObject: copyObject(backend),
    listObjects: (bucket, options) => listPages(bucket, options).pipe(Stream.mapConcat((page) => page.objects)),
    listPages,
    upload: upload(backend),
    listMultipartUploads: (bucket, options) =>
      allPages((marker: Option.Option<UploadsMarker>) => backend.listMultipartUploads(bucket, options?.prefix, marker)),
    abortMultipartUpload: backend.abortMultipartUpload,
    presignGetObject: presign(backend, "GET"),
    presignPutObject: presign(backend, "PUT"),
    send: backend.send
  })
}
