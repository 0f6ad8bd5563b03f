/**
 * `S3.layer`'s backend: each primitive operation of `s3Service.Backend` as one command on the
 * layer's client (`s3Client.ts`, which makes every request: timeouts, retries, the token retry,
 * errors), and the answer read into the service's models. The service is derived from it in
 * `s3Service.ts`.
 */
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"
import { Readable } from "node:stream"
import type { CredentialsError } from "../CredentialsError.js"
import type { S3Error } from "../S3Error.js"
import { defaults, type Options, type Service } from "../S3Model.js"
import type * as S3 from "../S3Model.js"
import { bodyStream, collectBody, streamedBody } from "./s3Body.js"
import * as S3Client from "./s3Client.js"
import { type CallContext, failure, parseContentRange, rangeHeader, singleUseBody, tooLarge } from "./s3Common.js"
import * as Presign from "./s3Presign.js"
import * as S3Service from "./s3Service.js"
import type { CompletedPart } from "./s3Upload.js"

type Client = S3Client.Client
type ObjectContext = CallContext & { readonly bucket: string; readonly key: string }

const encodeKey = (key: string): string => key.split("/").map(encodeURIComponent).join("/")

const toDateTime = (date: Date | undefined): Option.Option<DateTime.Utc> =>
  date instanceof Date && !Number.isNaN(date.getTime()) ? Option.some(DateTime.unsafeMake(date)) : Option.none()

const epoch = DateTime.unsafeMake(0)

/** A body upload: no overall timeout (the connection's silence is watched instead). */
const upload: S3Client.CallShape = { replayable: true, bounded: false }

const head = (context: ObjectContext, output: {
  readonly ETag?: string | undefined
  readonly LastModified?: Date | undefined
  readonly ContentType?: string | undefined
  readonly Metadata?: Record<string, string> | undefined
  readonly VersionId?: string | undefined
}, size: number): S3.ObjectHead => ({
  bucket: context.bucket,
  key: context.key,
  size,
  etag: output.ETag ?? "",
  lastModified: Option.getOrElse(toDateTime(output.LastModified), () => epoch),
  contentType: Option.fromNullable(output.ContentType),
  metadata: { ...output.Metadata },
  versionId: Option.fromNullable(output.VersionId)
})

const written = (output: { readonly ETag?: string | undefined; readonly VersionId?: string | undefined }) => ({
  etag: output.ETag ?? "",
  versionId: Option.fromNullable(output.VersionId)
})

const putInput = (context: ObjectContext, options: S3.PutOptions) => ({
  Bucket: context.bucket,
  Key: context.key,
  ContentType: options.contentType,
  Metadata: options.metadata === undefined ? undefined : { ...options.metadata },
  IfMatch: options.ifMatch,
  IfNoneMatch: options.ifNoneMatch
})

const getInput = (context: ObjectContext, options: S3.GetOptions) => ({
  Bucket: context.bucket,
  Key: context.key,
  Range: options.range === undefined ? undefined : rangeHeader(options.range),
  IfMatch: options.ifMatch
})

const putStream = (c: Client) =>
<E, R>(
  context: ObjectContext,
  body: Stream.Stream<Uint8Array, S3Error | E, R>,
  length: number,
  options: S3.PutOptions
): Effect.Effect<S3.PutResult, S3Error | CredentialsError | E, R> =>
  Effect.gen(function*() {
    const streamed = yield* streamedBody(body)
    const output = yield* c.call(
      context,
      (send) =>
        c.client.send(new c.sdk.PutObjectCommand({ ...putInput(context, options), Body: streamed.readable, ContentLength: length }), {
          ...send,
          abortSignal: AbortSignal.any([send.abortSignal, streamed.signal])
        }),
      { replayable: false, bounded: false }
    ).pipe(
      Effect.catchAll((error): Effect.Effect<never, S3Error | CredentialsError | E> =>
        Effect.fail(Option.getOrElse(streamed.failure(), () => error))
      ),
      Effect.ensuring(Effect.sync(() => streamed.readable.destroy()))
    )
    return written(output)
  })

/** Sends GetObject; the body is released (its connection closed if unread) with the scope. */
const getObject = (c: Client) =>
(
  context: ObjectContext,
  options: S3.GetOptions
): Effect.Effect<S3.GetObjectResult, S3Error | CredentialsError, Scope.Scope> =>
  Effect.gen(function*() {
    const output = yield* c.call(context, (send) => c.client.send(new c.sdk.GetObjectCommand(getInput(context, options)), send))
    const raw = output.Body as unknown
    const readable = raw instanceof Readable ? raw : Readable.from([])
    // `Scope.addFinalizer`: `Effect.addFinalizer` also restores the fiber's refs around the
    // finalizer, which costs more than the rest of a small GET's bookkeeping.
    let released = false
    yield* Scope.addFinalizer(
      yield* Effect.scope,
      Effect.sync(() => {
        released = true
        readable.destroy()
      })
    )
    const contentLength = output.ContentLength ?? 0
    const range = parseContentRange(output.ContentRange)
    const size = Option.match(range, {
      onNone: () => contentLength,
      onSome: (r) => (Number.isNaN(r.size) ? contentLength : r.size)
    })
    return {
      ...head(context, output, size),
      body: singleUseBody(context, bodyStream(context, readable, c.toS3Error), () => released),
      contentLength,
      range
    }
  })

/**
 * `getObjectText` / `getObjectBytes`: one promise sends GetObject and collects the body (a
 * scope and a `Stream` per body cost more than the rest of a small GET's client-side work),
 * inside one `call`: a body that breaks off is retried like a request that did, and an
 * interruption aborts both. Over `maxBytes` (announced, or counted while reading) the body is
 * dropped and the read fails with `MaxBytesExceeded`.
 */
const readObject = (c: Client) => (context: ObjectContext, options: S3.GetOptions, maxBytes: number) =>
  Effect.flatMap(
    c.call(context, (send) =>
      c.client.send(new c.sdk.GetObjectCommand(getInput(context, options)), send).then((output) => {
        const body = output.Body as unknown
        if (!(body instanceof Readable)) return new Uint8Array(0)
        if ((output.ContentLength ?? 0) > maxBytes) {
          body.destroy()
          return output.ContentLength ?? 0
        }
        return collectBody(body, maxBytes, send.abortSignal)
      })),
    (collected) => typeof collected === "number" ? tooLarge(context, collected, maxBytes) : Effect.succeed(collected)
  )

const listObjects = (c: Client) => (bucket: string, options: S3.ListOptions, token: Option.Option<string>) =>
  Effect.map(
    c.call({ operation: "ListObjectsV2", bucket }, (send) =>
      c.client.send(
        new c.sdk.ListObjectsV2Command({
          Bucket: bucket,
          Prefix: options.prefix,
          Delimiter: options.delimiter,
          StartAfter: options.startAfter,
          MaxKeys: options.pageSize === undefined ? undefined : Math.min(1000, Math.max(1, Math.floor(options.pageSize))),
          ContinuationToken: Option.getOrUndefined(token)
        }),
        send
      )),
    (output): S3Service.Page<S3.ListPage, string> => ({
      items: {
        objects: (output.Contents ?? []).map((object): S3.ObjectSummary => ({
          key: object.Key ?? "",
          size: object.Size ?? 0,
          etag: object.ETag ?? "",
          lastModified: Option.getOrElse(toDateTime(object.LastModified), () => epoch),
          storageClass: Option.fromNullable(object.StorageClass)
        })),
        commonPrefixes: (output.CommonPrefixes ?? []).flatMap((p) => (p.Prefix === undefined ? [] : [p.Prefix]))
      },
      next: output.IsTruncated === true ? Option.fromNullable(output.NextContinuationToken) : Option.none()
    })
  )

const listBuckets = (c: Client) => (token: Option.Option<string>) =>
  Effect.map(
    c.call({ operation: "ListBuckets" }, (send) =>
      c.client.send(new c.sdk.ListBucketsCommand({ ContinuationToken: Option.getOrUndefined(token) }), send)),
    (output): S3Service.Page<ReadonlyArray<S3.BucketInfo>, string> => ({
      items: (output.Buckets ?? []).flatMap((bucket) =>
        bucket.Name === undefined ? [] : [{ name: bucket.Name, creationDate: toDateTime(bucket.CreationDate) }]
      ),
      next: Option.filter(Option.fromNullable(output.ContinuationToken), (next) => next !== "")
    })
  )

const deleteBatch = (c: Client) => (bucket: string, keys: ReadonlyArray<string>) =>
  Effect.map(
    c.call({ operation: "DeleteObjects", bucket }, (send) =>
      c.client.send(
        new c.sdk.DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys.map((key) => ({ Key: key })), Quiet: true } }),
        send
      )),
    (output) =>
      (output.Errors ?? []).map((error) => ({
        key: error.Key ?? "",
        code: error.Code ?? "Unknown",
        message: c.scrub(error.Message ?? "")
      }))
  )

const copyObject = (c: Client): S3Service.Backend["copyObject"] => (source, target, options) =>
  Effect.map(
    c.call({ operation: "CopyObject", bucket: target.bucket, key: target.key }, (send) =>
      c.client.send(
        new c.sdk.CopyObjectCommand({
          Bucket: target.bucket,
          Key: target.key,
          CopySource: `${source.bucket}/${encodeKey(source.key)}`,
          CopySourceIfMatch: options.ifMatch,
          ...Option.match(options.replace, {
            onNone: () => ({}),
            onSome: (replace) => ({
              MetadataDirective: "REPLACE" as const,
              ContentType: replace.contentType,
              Metadata: { ...replace.metadata }
            })
          })
        }),
        send
      )),
    (output) => ({
      etag: output.CopyObjectResult?.ETag ?? "",
      lastModified: toDateTime(output.CopyObjectResult?.LastModified)
    })
  )

const createMultipartUpload = (c: Client) => (bucket: string, key: string, attributes: S3Service.ObjectAttributes) => {
  const context = { operation: "CreateMultipartUpload", bucket, key }
  return Effect.flatMap(
    c.call(context, (send) =>
      c.client.send(
        new c.sdk.CreateMultipartUploadCommand({
          Bucket: bucket,
          Key: key,
          ContentType: attributes.contentType,
          Metadata: attributes.metadata === undefined ? undefined : { ...attributes.metadata }
        }),
        send
      )),
    (output) =>
      output.UploadId === undefined
        ? Effect.fail(
          failure(context, { reason: "InvalidResponse", code: "InvalidResponse", detail: "the answer has no UploadId" })
        )
        : Effect.succeed(output.UploadId)
  )
}

const partChecksums = ["ChecksumCRC32", "ChecksumCRC32C", "ChecksumCRC64NVME", "ChecksumSHA1", "ChecksumSHA256"] as const

const uploadPart = (c: Client) => (bucket: string, key: string, uploadId: string, partNumber: number, bytes: Uint8Array) =>
  Effect.map(
    c.call(
      { operation: "UploadPart", bucket, key },
      (send) =>
        c.client.send(
          new c.sdk.UploadPartCommand({ Bucket: bucket, Key: key, UploadId: uploadId, PartNumber: partNumber, Body: bytes }),
          send
        ),
      upload
    ),
    (output): CompletedPart => {
      const checksums: Record<string, string> = {}
      for (const name of partChecksums) {
        const value = output[name]
        if (value !== undefined) checksums[name] = value
      }
      return { partNumber, etag: output.ETag ?? "", checksums }
    }
  )

const completeMultipartUpload = (c: Client) =>
(
  bucket: string,
  key: string,
  uploadId: string,
  parts: ReadonlyArray<CompletedPart>
) =>
  Effect.map(
    c.call({ operation: "CompleteMultipartUpload", bucket, key }, (send) =>
      c.client.send(
        new c.sdk.CompleteMultipartUploadCommand({
          Bucket: bucket,
          Key: key,
          UploadId: uploadId,
          MultipartUpload: {
            Parts: parts.map((part) => ({ PartNumber: part.partNumber, ETag: part.etag, ...part.checksums }))
          }
        }),
        send
      )),
    written
  )

const listMultipartUploads = (c: Client) =>
(
  bucket: string,
  prefix: string | undefined,
  marker: Option.Option<S3Service.UploadsMarker>
) =>
  Effect.map(
    c.call({ operation: "ListMultipartUploads", bucket }, (send) =>
      c.client.send(
        new c.sdk.ListMultipartUploadsCommand({
          Bucket: bucket,
          Prefix: prefix,
          KeyMarker: Option.getOrUndefined(marker)?.keyMarker,
          UploadIdMarker: Option.getOrUndefined(marker)?.uploadIdMarker
        }),
        send
      )),
    (output): S3Service.Page<ReadonlyArray<S3.MultipartUploadInfo>, S3Service.UploadsMarker> => ({
      items: (output.Uploads ?? []).flatMap((upload) =>
        upload.Key === undefined || upload.UploadId === undefined
          ? []
          : [{ key: upload.Key, uploadId: upload.UploadId, initiated: toDateTime(upload.Initiated) }]
      ),
      next: output.IsTruncated === true
        ? Option.some({ keyMarker: output.NextKeyMarker, uploadIdMarker: output.NextUploadIdMarker })
        : Option.none()
    })
  )

/** Signs with the credentials `AwsCredentials` serves now, whose expiry bounds the URL's. */
const presigner = (c: Client) => (context: ObjectContext, method: "GET" | "PUT") =>
  Effect.map(
    // Credentials that cannot be had fail the presign with `AwsCredentials.get`'s own error.
    c.credentials.get,
    (credentials): S3Service.Presigner => ({
      credentialsExpiry: credentials.expiration,
      sign: (seconds, now) =>
        Presign.presign({
          sdk: c.sdk,
          client: c.client,
          context,
          method,
          credentials,
          seconds,
          now,
          toS3Error: c.toS3Error
        })
    })
  )

/** Any other command, with the client's retries, timeout and error mapping. */
const send = (c: Client) => <Output>(command: S3.SdkCommand<Output>) => {
  const input = command.input as { readonly Bucket?: unknown; readonly Key?: unknown; readonly Body?: unknown }
  const streamed = input.Body !== undefined && typeof input.Body !== "string" && !(input.Body instanceof Uint8Array)
  return c.call(
    {
      operation: command.constructor.name.replace(/Command$/, ""),
      bucket: typeof input.Bucket === "string" ? input.Bucket : undefined,
      key: typeof input.Key === "string" ? input.Key : undefined
    },
    (options) => c.client.send(command as never, options) as Promise<Output>,
    { replayable: !streamed, bounded: input.Body === undefined }
  )
}

/** The backend of `c`'s client. */
const backend = (c: Client, options: Options): S3Service.Backend => ({
  region: c.region,
  settings: {
    partSize: options.partSize ?? defaults.partSize,
    concurrency: options.concurrency ?? defaults.concurrency,
    maxBytes: options.maxBytes ?? defaults.maxBytes
  },
  listBuckets: listBuckets(c),
  createBucket: (bucket, where) =>
    Effect.asVoid(c.call({ operation: "CreateBucket", bucket }, (send) =>
      c.client.send(
        new c.sdk.CreateBucketCommand({
          Bucket: bucket,
          ...(where === "us-east-1" ? {} : { CreateBucketConfiguration: { LocationConstraint: where as never } })
        }),
        send
      ))),
  headBucket: (bucket) =>
    Effect.map(
      c.call({ operation: "HeadBucket", bucket }, (send) => c.client.send(new c.sdk.HeadBucketCommand({ Bucket: bucket }), send)),
      (output) => ({ bucket, region: Option.fromNullable(output.BucketRegion) })
    ),
  deleteBucket: (bucket) =>
    Effect.asVoid(c.call({ operation: "DeleteBucket", bucket }, (send) =>
      c.client.send(new c.sdk.DeleteBucketCommand({ Bucket: bucket }), send))),
  putBytes: (context, body, putOptions) =>
    Effect.map(
      c.call(context, (send) => c.client.send(new c.sdk.PutObjectCommand({ ...putInput(context, putOptions), Body: body }), send), upload),
      written
    ),
  putStream: putStream(c),
  getObject: getObject(c),
  readObject: readObject(c),
  headObject: (bucket, key) => {
    const context = { operation: "HeadObject", bucket, key }
    return Effect.map(
      c.call(context, (send) => c.client.send(new c.sdk.HeadObjectCommand({ Bucket: bucket, Key: key }), send)),
      (output) => head(context, output, output.ContentLength ?? 0)
    )
  },
  deleteObject: (bucket, key) =>
    Effect.asVoid(c.call({ operation: "DeleteObject", bucket, key }, (send) =>
      c.client.send(new c.sdk.DeleteObjectCommand({ Bucket: bucket, Key: key }), send))),
  deleteBatch: deleteBatch(c),
  copyObject: copyObject(c),
  listObjects: listObjects(c),
  createMultipartUpload: createMultipartUpload(c),
  uploadPart: uploadPart(c),
  completeMultipartUpload: completeMultipartUpload(c),
  abortMultipartUpload: (bucket, key, uploadId) =>
    Effect.asVoid(c.call({ operation: "AbortMultipartUpload", bucket, key }, (send) =>
      c.client.send(new c.sdk.AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId }), send))),
  listMultipartUploads: listMultipartUploads(c),
  presigner: presigner(c),
  send: send(c)
})

/** The SDK-backed service for the current scope. */
export const make = (options: Options) =>
  Effect.map(S3Client.make(options), (client): Service => S3Service.make(backend(client, options)))

