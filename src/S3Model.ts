/**
 * The S3 service's data: what its operations take and return, the `Service` interface, the
 * layers' options and their defaults. A module of its own so that the backends (`S3.layer`'s
 * SDK, `S3.layerMemory`'s map) and the assembly they share can name them without importing `S3`
 * back; `S3` re-exports all of it.
 *
 * @since 0.1.0
 */
import type * as DateTime from "effect/DateTime"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"
import type { CredentialsError } from "./CredentialsError.js"
import type { S3Error } from "./S3Error.js"


// ---------------------------------------------------------------------------------------------
// Models
// ---------------------------------------------------------------------------------------------

/**
 * @since 0.1.0
 * @category models
 */
export interface BucketInfo {
  readonly name: string
  readonly creationDate: Option.Option<DateTime.Utc>
}

/**
 * @since 0.1.0
 * @category models
 */
export interface BucketHead {
  readonly bucket: string
  /** The bucket's region, when the server says (`x-amz-bucket-region`). */
  readonly region: Option.Option<string>
}

/**
 * @since 0.1.0
 * @category models
 */
export interface CreateBucketOptions {
  /**
   * Where to create it. Default: the service's region (`AwsRegion`). Outside us-east-1 the
   * location constraint is sent for you, as the AWS CLI's `s3 mb` does.
   */
  readonly region?: string | undefined
}

/**
 * An object's metadata, as `headObject` and `getObject` return it.
 *
 * @since 0.1.0
 * @category models
 */
export interface ObjectHead {
  readonly bucket: string
  readonly key: string
  /** The whole object's size in bytes. */
  readonly size: number
  /** The entity tag, with its quotes (`"9b2cf535f27731c974343645a3985328"`). */
  readonly etag: string
  readonly lastModified: DateTime.Utc
  readonly contentType: Option.Option<string>
  /** User metadata (`x-amz-meta-*`), keys in lower case as S3 stores them. */
  readonly metadata: Readonly<Record<string, string>>
  readonly versionId: Option.Option<string>
}

/**
 * A byte range of an object: `start` to `end` inclusive, out of `size` bytes.
 *
 * @since 0.1.0
 * @category models
 */
export interface ByteRange {
  readonly start: number
  readonly end: number
  readonly size: number
}

/**
 * The range to read: from `start` to `end` inclusive (to the end of the object without `end`),
 * or the `last` n bytes.
 *
 * @since 0.1.0
 * @category models
 */
export type Range =
  | { readonly start: number; readonly end?: number | undefined }
  | { readonly last: number }

/**
 * An object being read: its metadata and its body as a stream. The body is released (its
 * connection closed) when the scope `getObject` ran in closes, or when the stream is
 * interrupted or ends; it fails with reason `Timeout` when the connection stays silent for the
 * layer's `idleTimeout` (a body not read for that long is dropped too). The body comes in
 * batches of about 1 MiB (the last one smaller): a batch per network read would cost more in
 * stream machinery than a fast download costs itself; at most 4 MiB wait unread before the
 * connection is paused.
 *
 * @since 0.1.0
 * @category models
 */
export interface GetObjectResult extends ObjectHead {
  readonly body: Stream.Stream<Uint8Array, S3Error>
  /** The bytes in `body`. */
  readonly contentLength: number
  /** For a ranged read, which bytes `body` has. */
  readonly range: Option.Option<ByteRange>
}

/**
 * @since 0.1.0
 * @category models
 */
export interface GetOptions {
  readonly range?: Range | undefined
  /** Read only if the object's entity tag is this one (else `PreconditionFailed`). */
  readonly ifMatch?: string | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface ReadOptions extends GetOptions {
  /**
   * The most bytes `getObjectText` / `getObjectBytes` read into memory; a larger object fails
   * with reason `TooLarge`, code `MaxBytesExceeded`, before its body is read. Default: the layer's
   * `maxBytes` (16 MiB).
   */
  readonly maxBytes?: number | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface PutOptions {
  readonly contentType?: string | undefined
  /** User metadata, sent as `x-amz-meta-*` headers. */
  readonly metadata?: Readonly<Record<string, string>> | undefined
  /** Write only if the current object's entity tag is this one (else `PreconditionFailed`). */
  readonly ifMatch?: string | undefined
  /** `"*"`: write only if no object has this key yet (else `PreconditionFailed`). */
  readonly ifNoneMatch?: string | undefined
  /** The body's length in bytes: required for a stream body. */
  readonly contentLength?: number | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface PutResult {
  readonly etag: string
  readonly versionId: Option.Option<string>
}

/**
 * `putObject`: a body in memory, or a stream of known length (`contentLength`). For streams of
 * unknown length, or large ones, use `upload`.
 *
 * @since 0.1.0
 * @category models
 */
export interface PutObject {
  (
    bucket: string,
    key: string,
    body: Uint8Array | string,
    options?: PutOptions
  ): Effect.Effect<PutResult, S3Error | CredentialsError>
  <E, R>(
    bucket: string,
    key: string,
    body: Stream.Stream<Uint8Array, E, R>,
    options: PutOptions & { readonly contentLength: number }
  ): Effect.Effect<PutResult, S3Error | CredentialsError | E, R>
}

/**
 * @since 0.1.0
 * @category models
 */
export interface UploadOptions {
  readonly contentType?: string | undefined
  readonly metadata?: Readonly<Record<string, string>> | undefined
  /**
   * Bytes per part (at least 5 MiB, S3's minimum). A body no larger than one part is sent with
   * one `PutObject`. Default: the layer's `partSize` (8 MiB, boto3's `multipart_chunksize`).
   */
  readonly partSize?: number | undefined
  /**
   * Parts in flight at once. Memory held for the body is at most `partSize * concurrency`.
   * Default: the layer's `concurrency` (4).
   */
  readonly concurrency?: number | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface UploadResult {
  readonly etag: string
  readonly versionId: Option.Option<string>
  /** Bytes uploaded. */
  readonly size: number
  /** Parts of the multipart upload; 0 when the body went in one `PutObject`. */
  readonly parts: number
}

/**
 * @since 0.1.0
 * @category models
 */
export interface DeleteFailure {
  readonly key: string
  readonly code: string
  readonly message: string
}

/**
 * @since 0.1.0
 * @category models
 */
export interface DeleteObjectsResult {
  /** Keys deleted (S3 counts a key that did not exist as deleted). */
  readonly deleted: number
  /** Keys S3 refused, with its error code for each. */
  readonly errors: ReadonlyArray<DeleteFailure>
}

/**
 * @since 0.1.0
 * @category models
 */
export interface ObjectRef {
  readonly bucket: string
  readonly key: string
}

/**
 * @since 0.1.0
 * @category models
 */
export interface CopyOptions {
  /** Replaces the content type (and then the metadata too, as S3's `REPLACE` directive does). */
  readonly contentType?: string | undefined
  /** Replaces the metadata; without it (and without `contentType`) the source's is copied. */
  readonly metadata?: Readonly<Record<string, string>> | undefined
  /** Copy only if the source's entity tag is this one. */
  readonly ifMatch?: string | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface CopyResult {
  readonly etag: string
  readonly lastModified: Option.Option<DateTime.Utc>
}

/**
 * @since 0.1.0
 * @category models
 */
export interface ListOptions {
  readonly prefix?: string | undefined
  /** Groups keys that share a prefix up to the delimiter into common prefixes. */
  readonly delimiter?: string | undefined
  /** List keys after this one. */
  readonly startAfter?: string | undefined
  /** Keys (and common prefixes) per request, 1 to 1,000. Default 1,000. */
  readonly pageSize?: number | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface ObjectSummary {
  readonly key: string
  readonly size: number
  readonly etag: string
  readonly lastModified: DateTime.Utc
  readonly storageClass: Option.Option<string>
}

/**
 * One page of a listing.
 *
 * @since 0.1.0
 * @category models
 */
export interface ListPage {
  readonly objects: ReadonlyArray<ObjectSummary>
  readonly commonPrefixes: ReadonlyArray<string>
}

/**
 * A multipart upload that was started and neither completed nor aborted.
 *
 * @since 0.1.0
 * @category models
 */
export interface MultipartUploadInfo {
  readonly key: string
  readonly uploadId: string
  readonly initiated: Option.Option<DateTime.Utc>
}

/**
 * @since 0.1.0
 * @category models
 */
export interface PresignOptions {
  /** How long the URL should work. Default 15 minutes; at most 7 days (SigV4's limit). */
  readonly expiresIn?: Duration.DurationInput | undefined
}

/**
 * A presigned URL. `expiresAt` is when it stops working: never later than the expiry of the
 * credentials that signed it (a URL signed with temporary credentials dies with them), so it
 * may be earlier than asked; `clampedBy` then says why.
 *
 * @since 0.1.0
 * @category models
 */
export interface PresignedUrl {
  readonly url: string
  readonly method: "GET" | "PUT"
  readonly expiresAt: DateTime.Utc
  /** The effective lifetime. */
  readonly expiresIn: Duration.Duration
  /** The lifetime asked for. */
  readonly requested: Duration.Duration
  /** Why `expiresIn` is shorter than `requested`: the credentials' expiry, or SigV4's 7 days. */
  readonly clampedBy: Option.Option<"credentials" | "maximum">
}

/**
 * What the SDK's `client.send` accepts, as far as `send` needs to know it: its output type is
 * read from `resolveMiddleware`.
 *
 * @since 0.1.0
 * @category models
 */
export interface SdkCommand<Output> {
  readonly input: object
  readonly resolveMiddleware: (...args: ReadonlyArray<never>) => (args: never) => Promise<{ readonly output: Output }>
}

// ---------------------------------------------------------------------------------------------
// The service
// ---------------------------------------------------------------------------------------------

/**
 * The operations. Keys are object keys as S3 has them (no leading slash, any UTF-8).
 *
 * @since 0.1.0
 * @category models
 */
export interface Service {
  readonly listBuckets: Effect.Effect<ReadonlyArray<BucketInfo>, S3Error | CredentialsError>
  readonly createBucket: (
    bucket: string,
    options?: CreateBucketOptions
  ) => Effect.Effect<void, S3Error | CredentialsError>
  /** Fails with `NoSuchBucket` when there is no such bucket. */
  readonly headBucket: (bucket: string) => Effect.Effect<BucketHead, S3Error | CredentialsError>
  readonly deleteBucket: (bucket: string) => Effect.Effect<void, S3Error | CredentialsError>
  readonly putObject: PutObject
  /** The object and its body as a stream, released when the scope closes. */
  readonly getObject: (
    bucket: string,
    key: string,
    options?: GetOptions
  ) => Effect.Effect<GetObjectResult, S3Error | CredentialsError, Scope.Scope>
  /** The body as UTF-8 text, up to `maxBytes`. */
  readonly getObjectText: (
    bucket: string,
    key: string,
    options?: ReadOptions
  ) => Effect.Effect<string, S3Error | CredentialsError>
  /** The body as bytes, up to `maxBytes`. */
  readonly getObjectBytes: (
    bucket: string,
    key: string,
    options?: ReadOptions
  ) => Effect.Effect<Uint8Array, S3Error | CredentialsError>
  /** The object's metadata, or `None` when there is no such object (or bucket). */
  readonly headObject: (
    bucket: string,
    key: string
  ) => Effect.Effect<Option.Option<ObjectHead>, S3Error | CredentialsError>
  /** Deletes the object; deleting a key that does not exist succeeds, as in S3. */
  readonly deleteObject: (bucket: string, key: string) => Effect.Effect<void, S3Error | CredentialsError>
  /** Deletes any number of keys, 1,000 per request; keys S3 refused are in `errors`. */
  readonly deleteObjects: (
    bucket: string,
    keys: Iterable<string>
  ) => Effect.Effect<DeleteObjectsResult, S3Error | CredentialsError>
  readonly copyObject: (
    source: ObjectRef,
    target: ObjectRef,
    options?: CopyOptions
  ) => Effect.Effect<CopyResult, S3Error | CredentialsError>
  /** Every object (in key order, UTF-8 binary), across all pages. */
  readonly listObjects: (
    bucket: string,
    options?: ListOptions
  ) => Stream.Stream<ObjectSummary, S3Error | CredentialsError>
  /** The listing page by page, with the common prefixes of a `delimiter` listing. */
  readonly listPages: (bucket: string, options?: ListOptions) => Stream.Stream<ListPage, S3Error | CredentialsError>
  /**
   * Managed upload: one `PutObject` for a body up to one part, a multipart upload otherwise,
   * with parts of `partSize` sent `concurrency` at a time. On failure or interruption the
   * multipart upload is aborted, so no parts are left behind. Every part is its own signed
   * request, with the credentials current at that moment.
   */
  readonly upload: <E = never, R = never>(
    bucket: string,
    key: string,
    body: Uint8Array | string | Stream.Stream<Uint8Array, E, R>,
    options?: UploadOptions
  ) => Effect.Effect<UploadResult, S3Error | CredentialsError | E, R>
  /** Multipart uploads started and not finished (all pages). */
  readonly listMultipartUploads: (
    bucket: string,
    options?: { readonly prefix?: string | undefined }
  ) => Effect.Effect<ReadonlyArray<MultipartUploadInfo>, S3Error | CredentialsError>
  readonly abortMultipartUpload: (
    bucket: string,
    key: string,
    uploadId: string
  ) => Effect.Effect<void, S3Error | CredentialsError>
  readonly presignGetObject: (
    bucket: string,
    key: string,
    options?: PresignOptions
  ) => Effect.Effect<PresignedUrl, S3Error | CredentialsError>
  readonly presignPutObject: (
    bucket: string,
    key: string,
    options?: PresignOptions
  ) => Effect.Effect<PresignedUrl, S3Error | CredentialsError>
  /**
   * Any other `@aws-sdk/client-s3` command, on the service's client, with its retries, timeout
   * and error mapping. The in-memory layer fails it with code `NotImplemented`.
   */
  readonly send: <Output>(command: SdkCommand<Output>) => Effect.Effect<Output, S3Error | CredentialsError>
}

// ---------------------------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------------------------

/**
 * Tunables of `layer`; all optional.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /**
   * The endpoint URL (`http://127.0.0.1:9000` for a local server). Without it: `AWS_ENDPOINT_URL_S3`,
   * `AWS_ENDPOINT_URL`, the profile's `[services]` section (`s3 =\n  endpoint_url = ...`), the
   * profile's `endpoint_url` (botocore's order; off with `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS`),
   * else AWS's endpoint for the region.
   */
  readonly endpoint?: string | undefined
  /**
   * `bucket` in the path (`http://host/bucket/key`) rather than the host name. Default: false
   * for `compat: "aws"` unless the profile's `s3 = addressing_style = path` says so; true for
   * `compat: "s3-compatible"`.
   */
  readonly forcePathStyle?: boolean | undefined
  /**
   * `"aws"` (default): the SDK's defaults (CRC32 checksums on uploads, checked on downloads).
   * `"s3-compatible"`: what MinIO, Ceph, Swift and R2 need: checksums only where an operation
   * requires one (`WHEN_REQUIRED` for both calculation and validation), path-style addressing,
   * and a `Content-MD5` on `DeleteObjects`.
   */
  readonly compat?: "aws" | "s3-compatible" | undefined
  /**
   * Attempts per request (throttling, 5xx, timeouts, connection errors). Default: the session's
   * (`AWS_MAX_ATTEMPTS` / `max_attempts`, or botocore's default for `AWS_RETRY_MODE` /
   * `retry_mode`), as for every client on it (`AwsClient`); 3 when the session sets neither.
   */
  readonly maxAttempts?: number | undefined
  /**
   * How long one attempt of a request without a body to upload may take to connect and get
   * the response's headers. Default 30 seconds.
   */
  readonly timeout?: Duration.DurationInput | undefined
  /**
   * How long a connection may stay silent: while a body uploads, while the server works, and
   * while a `getObject` body downloads (or waits to be read). Default: `timeout`.
   */
  readonly idleTimeout?: Duration.DurationInput | undefined
  /** Default part size of `upload`. Default 8 MiB. */
  readonly partSize?: number | undefined
  /** Default concurrency of `upload`. Default 4. */
  readonly concurrency?: number | undefined
  /** Default cap of `getObjectText` / `getObjectBytes`. Default 16 MiB. */
  readonly maxBytes?: number | undefined
}

/**
 * The defaults of `Options`.
 *
 * @since 0.1.0
 * @category models
 */
export const defaults: {
  readonly maxAttempts: number
  readonly timeoutMillis: number
  readonly partSize: number
  readonly concurrency: number
  readonly maxBytes: number
  readonly presignExpiresInSeconds: number
} = {
  maxAttempts: 3,
  timeoutMillis: 30_000,
  partSize: 8 * 1024 * 1024,
  concurrency: 4,
  maxBytes: 16 * 1024 * 1024,
  presignExpiresInSeconds: 900
}

/**
 * Tunables of `layerMemory`.
 *
 * @since 0.1.0
 * @category models
 */
export interface MemoryOptions {
  /**
   * The region the in-memory S3 pretends to be in. In us-east-1 (the default), creating a
   * bucket you already own succeeds, as on AWS; elsewhere it fails with
   * `BucketAlreadyOwnedByYou`.
   */
  readonly region?: string | undefined
  readonly partSize?: number | undefined
  readonly concurrency?: number | undefined
  readonly maxBytes?: number | undefined
}
