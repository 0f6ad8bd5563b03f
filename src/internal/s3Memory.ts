/**
 * `S3.layerMemory()`: S3 in a `Map`, with the semantics programs notice (checked against moto by
 * the shared contract suite, test/s3/contract.ts): error codes, statuses and reasons; keys in
 * UTF-8 binary order; ListObjectsV2 pagination with opaque continuation tokens, `startAfter`,
 * delimiters and common prefixes counted against the page size; ranges (206, 416
 * `InvalidRange`); `If-Match` / `If-None-Match: *` on writes; multipart uploads with S3's checks
 * (5 MiB minimum part but the last, part order, entity tags) and multipart entity tags
 * (`"<md5 of the parts' md5s>-<n>"`); us-east-1's "creating your own bucket again succeeds".
 */
import * as Clock from "effect/Clock"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as crypto from "node:crypto"
import { AwsCredentials } from "../AwsCredentials.js"
import type * as S3 from "../S3Model.js"
import type { Reason, S3Error } from "../S3Error.js"
import { defaults } from "../S3Model.js"
import {
  batches,
  type CallContext,
  compareKeys,
  credentialsExpiry,
  deleteBatchSize,
  failure,
  instrument,
  minPartSize,
  presignedUrl,
  presignLifetime,
  quoteEtag,
  readBody,
  singleUseBody,
  uploadSettings
} from "./s3Common.js"
import * as Upload from "./s3Upload.js"

interface StoredObject {
  readonly bytes: Uint8Array
  readonly etag: string
  readonly lastModified: DateTime.Utc
  readonly contentType: string
  readonly metadata: Readonly<Record<string, string>>
}

interface StoredPart {
  readonly bytes: Uint8Array
  readonly etag: string
}

interface PendingUpload {
  readonly key: string
  readonly uploadId: string
  readonly initiated: DateTime.Utc
  readonly contentType: string
  readonly metadata: Readonly<Record<string, string>>
  readonly parts: Map<number, StoredPart>
}

interface Bucket {
  readonly name: string
  readonly region: string
  readonly created: DateTime.Utc
  /** Keys in S3's order. */
  readonly keys: Array<string>
  readonly objects: Map<string, StoredObject>
  readonly uploads: Map<string, PendingUpload>
}

const defaultContentType = "binary/octet-stream"
const bodyChunkSize = 64 * 1024
const maxKeyBytes = 1024

/** A copy (`Buffer#slice` would be a view: the caller's, or our own, bytes must not be shared). */
const copy = (bytes: Uint8Array): Uint8Array => new Uint8Array(bytes)

const md5 = (bytes: Uint8Array): Buffer => crypto.createHash("md5").update(bytes).digest()

/** The first index whose key is greater than `key` (`orEqual`: not less than). */
const searchKeys = (keys: ReadonlyArray<string>, key: string, orEqual: boolean): number => {
  let low = 0
  let high = keys.length
  while (low < high) {
    const mid = (low + high) >>> 1
    const c = compareKeys(keys[mid]!, key)
    if (c < 0 || (c === 0 && !orEqual)) low = mid + 1
    else high = mid
  }
  return low
}

const lowerKeys = (metadata: Readonly<Record<string, string>> | undefined): Record<string, string> => {
  const out: Record<string, string> = {}
  for (const [key, value] of Object.entries(metadata ?? {})) out[key.toLowerCase()] = value
  return out
}

/** S3's bucket naming rules (general purpose buckets). */
const invalidBucketName = (name: string): string | undefined => {
  if (name.length < 3 || name.length > 63) return "must be 3 to 63 characters long"
  if (!/^[a-z0-9][a-z0-9.-]*[a-z0-9]$/.test(name)) {
    return "may only hold lower-case letters, digits, dots and hyphens, and must start and end with a letter or digit"
  }
  if (name.includes("..")) return "must not hold two adjacent dots"
  if (/^\d+\.\d+\.\d+\.\d+$/.test(name)) return "must not look like an IP address"
  return undefined
}

interface ListToken {
  /** The last key examined. */
  readonly after: string
  /** The last common prefix returned: keys under it are skipped. */
  readonly skip?: string | undefined
}

const encodeToken = (token: ListToken): string => Buffer.from(JSON.stringify(token), "utf8").toString("base64url")

const decodeToken = (text: string): ListToken | undefined => {
  try {
    const value: unknown = JSON.parse(Buffer.from(text, "base64url").toString("utf8"))
    if (typeof value !== "object" || value === null) return undefined
    const { after, skip } = value as { readonly after?: unknown; readonly skip?: unknown }
    if (typeof after !== "string" || (skip !== undefined && typeof skip !== "string")) return undefined
    return skip === undefined ? { after } : { after, skip }
  } catch {
    return undefined
  }
}

/** Builds the in-memory service (one empty store per call). */
export const make = (options: S3.MemoryOptions): Effect.Effect<S3.Service> =>
  Effect.gen(function*() {
    const region = options.region ?? "us-east-1"
    const settings = {
      partSize: options.partSize ?? defaults.partSize,
      concurrency: options.concurrency ?? defaults.concurrency,
      maxBytes: options.maxBytes ?? defaults.maxBytes
    }
    const credentialsAtBuild = yield* Effect.serviceOption(AwsCredentials)
    const buckets = new Map<string, Bucket>()
    let requests = 0
    let uploads = 0

    /** A request id like S3's, so that errors look the same. */
    const nextRequestId = () => `MEM${(++requests).toString(16).toUpperCase().padStart(13, "0")}`

    const fail = (
      context: CallContext,
      fields: { reason: Reason; code: string; status: number; detail: string }
    ): Effect.Effect<never, S3Error> => Effect.fail(failure(context, { ...fields, requestId: nextRequestId() }))

    const noSuchBucket = (context: CallContext, bucket: string) =>
      fail(context, {
        reason: "NoSuchBucket",
        code: "NoSuchBucket",
        status: 404,
        detail: `The specified bucket does not exist (${bucket})`
      })

    const noSuchKey = (context: CallContext) =>
      fail(context, { reason: "NoSuchKey", code: "NoSuchKey", status: 404, detail: "The specified key does not exist." })

    const preconditionFailed = (context: CallContext, condition: string) =>
      fail(context, {
        reason: "PreconditionFailed",
        code: "PreconditionFailed",
        status: 412,
        detail: `At least one of the pre-conditions you specified did not hold (${condition})`
      })

    const getBucket = (context: CallContext, name: string): Effect.Effect<Bucket, S3Error> =>
      Effect.suspend(() => {
        const bucket = buckets.get(name)
        return bucket === undefined ? noSuchBucket(context, name) : Effect.succeed(bucket)
      })

    const checkKey = (context: CallContext, key: string): Effect.Effect<void, S3Error> => {
      if (key === "") {
        return fail(context, { reason: "Other", code: "InvalidArgument", status: 400, detail: "The key must not be empty." })
      }
      if (Buffer.byteLength(key, "utf8") > maxKeyBytes) {
        return fail(context, {
          reason: "Other",
          code: "KeyTooLongError",
          status: 400,
          detail: `Your key is too long (more than ${maxKeyBytes} bytes of UTF-8).`
        })
      }
      return Effect.void
    }

    const now = Effect.map(Clock.currentTimeMillis, (millis) => DateTime.unsafeMake(millis))

    const store = (bucket: Bucket, key: string, object: StoredObject): void => {
      if (!bucket.objects.has(key)) bucket.keys.splice(searchKeys(bucket.keys, key, true), 0, key)
      bucket.objects.set(key, object)
    }

    const remove = (bucket: Bucket, key: string): void => {
      if (!bucket.objects.delete(key)) return
      const index = searchKeys(bucket.keys, key, true)
      if (bucket.keys[index] === key) bucket.keys.splice(index, 1)
    }

    const head = (bucket: string, key: string, object: StoredObject): S3.ObjectHead => ({
      bucket,
      key,
      size: object.bytes.length,
      etag: object.etag,
      lastModified: object.lastModified,
      contentType: Option.some(object.contentType),
      metadata: { ...object.metadata },
      versionId: Option.none()
    })

    /** Checks `If-Match` / `If-None-Match` of a write against what is stored. */
    const checkConditions = (
      context: CallContext,
      current: StoredObject | undefined,
      conditions: { readonly ifMatch?: string | undefined; readonly ifNoneMatch?: string | undefined }
    ): Effect.Effect<void, S3Error> => {
      if (conditions.ifNoneMatch !== undefined) {
        if (conditions.ifNoneMatch !== "*") {
          return fail(context, {
            reason: "Other",
            code: "NotImplemented",
            status: 501,
            detail: "If-None-Match on writes only supports \"*\"."
          })
        }
        if (current !== undefined) return preconditionFailed(context, "If-None-Match")
      }
      if (conditions.ifMatch !== undefined) {
        if (current === undefined) return noSuchKey(context)
        if (quoteEtag(conditions.ifMatch) !== current.etag) return preconditionFailed(context, "If-Match")
      }
      return Effect.void
    }

    const write = (
      context: CallContext,
      bucketName: string,
      key: string,
      bytes: Uint8Array,
      etag: string,
      options: {
        readonly contentType?: string | undefined
        readonly metadata?: Readonly<Record<string, string>> | undefined
        readonly ifMatch?: string | undefined
        readonly ifNoneMatch?: string | undefined
      }
    ): Effect.Effect<Upload.Written, S3Error> =>
      Effect.gen(function*() {
        yield* checkKey(context, key)
        const bucket = yield* getBucket(context, bucketName)
        yield* checkConditions(context, bucket.objects.get(key), options)
        store(bucket, key, {
          bytes,
          etag,
          lastModified: yield* now,
          contentType: options.contentType ?? defaultContentType,
          metadata: lowerKeys(options.metadata)
        })
        return { etag, versionId: Option.none() }
      })

    const putBytes = (
      context: CallContext,
      bucket: string,
      key: string,
      bytes: Uint8Array,
      options: S3.PutOptions
    ) => write(context, bucket, key, bytes, `"${md5(bytes).toString("hex")}"`, options)

    /** Collects a stream body of announced length (a body of another length fails, as S3's would). */
    const collect = <E, R>(
      context: CallContext,
      stream: Stream.Stream<Uint8Array, E, R>,
      length: number
    ): Effect.Effect<Uint8Array, S3Error | E, R> =>
      Effect.gen(function*() {
        const out = new Uint8Array(length)
        let size = 0
        const tooLong = failure(context, {
          reason: "Other",
          code: "BodyLengthMismatch",
          detail: `the body stream is longer than contentLength (${length} bytes)`
        })
        yield* Stream.runForEach(stream, (bytes) => {
          if (size + bytes.length > length) return Effect.fail(tooLong)
          out.set(bytes, size)
          size += bytes.length
          return Effect.void
        })
        if (size !== length) {
          return yield* Effect.fail(failure(context, {
            reason: "Other",
            code: "BodyLengthMismatch",
            detail: `the body stream ended after ${size} bytes, short of contentLength (${length} bytes)`
          }))
        }
        return out
      })

    const putObject = <E, R>(
      bucket: string,
      key: string,
      body: Uint8Array | string | Stream.Stream<Uint8Array, E, R>,
      options: S3.PutOptions = {}
    ): Effect.Effect<S3.PutResult, S3Error | E, R> => {
      const context = { operation: "PutObject", bucket, key }
      if (typeof body === "string") return putBytes(context, bucket, key, Buffer.from(body, "utf8"), options)
      if (body instanceof Uint8Array) return putBytes(context, bucket, key, copy(body), options)
      const length = options.contentLength
      if (length === undefined || !Number.isSafeInteger(length) || length < 0) {
        return Effect.fail(failure(context, {
          reason: "Other",
          code: "MissingContentLength",
          detail: "a stream body needs its length in bytes (contentLength); for a stream of unknown length use upload"
        }))
      }
      // Fail early on a missing bucket, as S3 answers before reading the body.
      return Effect.zipRight(
        getBucket(context, bucket),
        Effect.flatMap(collect(context, body, length), (bytes) => putBytes(context, bucket, key, bytes, options))
      )
    }

    const resolveRange = (
      context: CallContext,
      range: S3.Range,
      size: number
    ): Effect.Effect<S3.ByteRange, S3Error> => {
      const unsatisfiable = fail(context, {
        reason: "Other",
        code: "InvalidRange",
        status: 416,
        detail: "The requested range is not satisfiable"
      })
      if ("last" in range) {
        if (size === 0) return unsatisfiable
        const start = Math.max(0, size - range.last)
        return Effect.succeed({ start, end: size - 1, size })
      }
      if (range.start >= size) return unsatisfiable
      const end = range.end === undefined ? size - 1 : Math.min(range.end, size - 1)
      return Effect.succeed({ start: range.start, end, size })
    }

    const getObject = (
      bucketName: string,
      key: string,
      options: S3.GetOptions = {}
    ): Effect.Effect<S3.GetObjectResult, S3Error, Scope.Scope> =>
      Effect.gen(function*() {
        const context = { operation: "GetObject", bucket: bucketName, key }
        const bucket = yield* getBucket(context, bucketName)
        const object = bucket.objects.get(key)
        if (object === undefined) return yield* noSuchKey(context)
        if (options.ifMatch !== undefined && quoteEtag(options.ifMatch) !== object.etag) {
          return yield* preconditionFailed(context, "If-Match")
        }
        const range = options.range === undefined
          ? Option.none<S3.ByteRange>()
          : Option.some(yield* resolveRange(context, options.range, object.bytes.length))
        const bytes = Option.match(range, {
          onNone: () => object.bytes,
          onSome: ({ end, start }) => object.bytes.subarray(start, end + 1)
        })
        const slices: Array<Uint8Array> = []
        for (let offset = 0; offset < bytes.length; offset += bodyChunkSize) {
          slices.push(copy(bytes.subarray(offset, offset + bodyChunkSize)))
        }
        let released = false
        yield* Effect.addFinalizer(() =>
          Effect.sync(() => {
            released = true
          })
        )
        return {
          ...head(bucketName, key, object),
          body: singleUseBody(context, Stream.fromIterable(slices), () => released),
          contentLength: bytes.length,
          range
        }
      })

    const read = (bucket: string, key: string, options: S3.ReadOptions = {}, operation: string) =>
      Effect.scoped(
        Effect.flatMap(
          getObject(bucket, key, options),
          (result) => readBody({ operation, bucket, key }, result, options.maxBytes ?? settings.maxBytes)
        )
      )

    const listPage = (
      context: CallContext,
      bucketName: string,
      options: S3.ListOptions,
      token: string | undefined
    ): Effect.Effect<readonly [S3.ListPage, Option.Option<string>], S3Error> =>
      Effect.gen(function*() {
        const bucket = yield* getBucket(context, bucketName)
        const pageSize = Math.min(1000, Math.max(1, Math.floor(options.pageSize ?? 1000)))
        const prefix = options.prefix ?? ""
        const delimiter = options.delimiter === "" ? undefined : options.delimiter
        let position: ListToken = { after: options.startAfter ?? "" }
        if (token !== undefined) {
          const decoded = decodeToken(token)
          if (decoded === undefined) {
            return yield* fail(context, {
              reason: "Other",
              code: "InvalidArgument",
              status: 400,
              detail: "The continuation token provided is incorrect"
            })
          }
          position = decoded
        }
        let index = position.after === "" ? 0 : searchKeys(bucket.keys, position.after, false)
        if (prefix !== "") index = Math.max(index, searchKeys(bucket.keys, prefix, true))
        const objects: Array<S3.ObjectSummary> = []
        const commonPrefixes: Array<string> = []
        let lastPrefix = position.skip
        let lastKey: string | undefined
        for (; index < bucket.keys.length; index++) {
          const key = bucket.keys[index]!
          if (!key.startsWith(prefix)) break
          if (lastPrefix !== undefined && key.startsWith(lastPrefix)) continue
          const cut = delimiter === undefined ? -1 : key.indexOf(delimiter, prefix.length)
          if (objects.length + commonPrefixes.length === pageSize) {
            // One more entry exists: the page is truncated.
            const next: ListToken = lastPrefix === undefined || lastKey === undefined || !lastKey.startsWith(lastPrefix)
              ? { after: lastKey ?? "" }
              : { after: lastKey, skip: lastPrefix }
            return [{ objects, commonPrefixes }, Option.some(encodeToken(next))] as const
          }
          lastKey = key
          if (cut >= 0) {
            lastPrefix = key.slice(0, cut + delimiter!.length)
            commonPrefixes.push(lastPrefix)
            continue
          }
          lastPrefix = undefined
          const object = bucket.objects.get(key)!
          objects.push({
            key,
            size: object.bytes.length,
            etag: object.etag,
            lastModified: object.lastModified,
            storageClass: Option.some("STANDARD")
          })
        }
        return [{ objects, commonPrefixes }, Option.none()] as const
      })

    const listPages = (bucket: string, options: S3.ListOptions = {}): Stream.Stream<S3.ListPage, S3Error> =>
      Stream.paginateEffect(
        undefined as string | undefined,
        (token) =>
          Effect.map(
            listPage({ operation: "ListObjectsV2", bucket }, bucket, options, token),
            ([page, next]) => [page, Option.map(next, (t): string | undefined => t)] as const
          )
      )

    // --- multipart -------------------------------------------------------------------------

    const getUpload = (context: CallContext, bucket: Bucket, uploadId: string, key: string) =>
      Effect.suspend(() => {
        const upload = bucket.uploads.get(uploadId)
        return upload === undefined || upload.key !== key
          ? fail(context, {
            reason: "Other",
            code: "NoSuchUpload",
            status: 404,
            detail: "The specified multipart upload does not exist. The upload ID may be invalid, or the upload " +
              "may have been aborted or completed."
          })
          : Effect.succeed(upload)
      })

    const backend = (
      bucketName: string,
      key: string,
      options: S3.UploadOptions
    ): Upload.Backend => ({
      putObject: (bytes) =>
        putBytes({ operation: "PutObject", bucket: bucketName, key }, bucketName, key, copy(bytes), options),
      create: Effect.gen(function*() {
        const context = { operation: "CreateMultipartUpload", bucket: bucketName, key }
        yield* checkKey(context, key)
        const bucket = yield* getBucket(context, bucketName)
        const uploadId = crypto.createHash("sha256").update(`${bucketName}/${key}/${++uploads}`).digest("base64url")
        bucket.uploads.set(uploadId, {
          key,
          uploadId,
          initiated: yield* now,
          contentType: options.contentType ?? defaultContentType,
          metadata: lowerKeys(options.metadata),
          parts: new Map()
        })
        return uploadId
      }),
      uploadPart: (uploadId, partNumber, bytes) =>
        Effect.gen(function*() {
          const context = { operation: "UploadPart", bucket: bucketName, key }
          const bucket = yield* getBucket(context, bucketName)
          const upload = yield* getUpload(context, bucket, uploadId, key)
          const etag = `"${md5(bytes).toString("hex")}"`
          upload.parts.set(partNumber, { bytes: copy(bytes), etag })
          return { partNumber, etag }
        }),
      complete: (uploadId, parts) =>
        Effect.gen(function*() {
          const context = { operation: "CompleteMultipartUpload", bucket: bucketName, key }
          const bucket = yield* getBucket(context, bucketName)
          const upload = yield* getUpload(context, bucket, uploadId, key)
          if (parts.length === 0) {
            return yield* fail(context, {
              reason: "Other",
              code: "MalformedXML",
              status: 400,
              detail: "The XML you provided was not well-formed or did not validate against our published schema"
            })
          }
          const stored: Array<StoredPart> = []
          let previous = 0
          for (const [i, part] of parts.entries()) {
            if (part.partNumber <= previous) {
              return yield* fail(context, {
                reason: "Other",
                code: "InvalidPartOrder",
                status: 400,
                detail: "The list of parts was not in ascending order."
              })
            }
            previous = part.partNumber
            const found = upload.parts.get(part.partNumber)
            if (found === undefined || found.etag !== quoteEtag(part.etag)) {
              return yield* fail(context, {
                reason: "Other",
                code: "InvalidPart",
                status: 400,
                detail: `One or more of the specified parts could not be found (part ${part.partNumber}).`
              })
            }
            if (i < parts.length - 1 && found.bytes.length < minPartSize) {
              return yield* fail(context, {
                reason: "Other",
                code: "EntityTooSmall",
                status: 400,
                detail: `Your proposed upload is smaller than the minimum allowed size (part ${part.partNumber} has ` +
                  `${found.bytes.length} bytes; every part but the last needs ${minPartSize}).`
              })
            }
            stored.push(found)
          }
          const bytes = Buffer.concat(stored.map((part) => part.bytes))
          const etag = `"${md5(Buffer.concat(stored.map((part) => md5(part.bytes)))).toString("hex")}-${stored.length}"`
          bucket.uploads.delete(uploadId)
          store(bucket, key, {
            bytes,
            etag,
            lastModified: yield* now,
            contentType: upload.contentType,
            metadata: upload.metadata
          })
          return { etag, versionId: Option.none() }
        }),
      abort: (uploadId) => abortMultipartUpload(bucketName, key, uploadId)
    })

    const abortMultipartUpload = (bucketName: string, key: string, uploadId: string) =>
      Effect.gen(function*() {
        const context = { operation: "AbortMultipartUpload", bucket: bucketName, key }
        const bucket = yield* getBucket(context, bucketName)
        yield* getUpload(context, bucket, uploadId, key)
        bucket.uploads.delete(uploadId)
      })

    // --- presign ---------------------------------------------------------------------------

    const presign = (method: "GET" | "PUT") =>
    (
      bucket: string,
      key: string,
      options: S3.PresignOptions = {}
    ): Effect.Effect<S3.PresignedUrl, S3Error> =>
      Effect.gen(function*() {
        const context = { operation: method === "GET" ? "GetObject" : "PutObject", bucket, key }
        yield* checkKey(context, key)
        const current = yield* now
        const atCall = yield* Effect.serviceOption(AwsCredentials)
        const expiry = yield* credentialsExpiry(Option.orElse(atCall, () => credentialsAtBuild))
        const lifetime = yield* presignLifetime({
          context,
          requested: options.expiresIn,
          now: current,
          credentialsExpiry: expiry
        })
        const path = key.split("/").map(encodeURIComponent).join("/")
        const date = DateTime.formatIso(current).replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z")
        return presignedUrl(
          `https://memory.s3.invalid/${bucket}/${path}?X-Amz-Date=${date}&X-Amz-Expires=${lifetime.seconds}`,
          method,
          lifetime
        )
      })

    const service: S3.Service = {
      listBuckets: Effect.sync(() =>
        [...buckets.values()]
          .sort((a, b) => compareKeys(a.name, b.name))
          .map((bucket) => ({ name: bucket.name, creationDate: Option.some(bucket.created) }))
      ),
      createBucket: (name, createOptions) =>
        Effect.gen(function*() {
          const context = { operation: "CreateBucket", bucket: name }
          const invalid = invalidBucketName(name)
          if (invalid !== undefined) {
            return yield* fail(context, {
              reason: "Other",
              code: "InvalidBucketName",
              status: 400,
              detail: `The specified bucket is not valid: a bucket name ${invalid}.`
            })
          }
          const where = createOptions?.region ?? region
          if (buckets.has(name)) {
            // us-east-1 answers success to the owner; every other region, 409.
            if (where === "us-east-1") return
            return yield* fail(context, {
              reason: "BucketAlreadyOwnedByYou",
              code: "BucketAlreadyOwnedByYou",
              status: 409,
              detail: "Your previous request to create the named bucket succeeded and you already own it."
            })
          }
          buckets.set(name, {
            name,
            region: where,
            created: yield* now,
            keys: [],
            objects: new Map(),
            uploads: new Map()
          })
        }),
      headBucket: (name) =>
        Effect.map(
          getBucket({ operation: "HeadBucket", bucket: name }, name),
          (bucket) => ({ bucket: name, region: Option.some(bucket.region) })
        ),
      deleteBucket: (name) =>
        Effect.gen(function*() {
          const context = { operation: "DeleteBucket", bucket: name }
          const bucket = yield* getBucket(context, name)
          if (bucket.objects.size > 0 || bucket.uploads.size > 0) {
            return yield* fail(context, {
              reason: "Other",
              code: "BucketNotEmpty",
              status: 409,
              detail: "The bucket you tried to delete is not empty"
            })
          }
          buckets.delete(name)
        }),
      putObject: putObject as S3.PutObject,
      getObject,
      getObjectText: (bucket, key, options) =>
        Effect.map(read(bucket, key, options, "GetObject"), (bytes) => Buffer.from(bytes).toString("utf8")),
      getObjectBytes: (bucket, key, options) => read(bucket, key, options, "GetObject"),
      headObject: (bucketName, key) =>
        Effect.sync(() => {
          const object = buckets.get(bucketName)?.objects.get(key)
          return object === undefined ? Option.none() : Option.some(head(bucketName, key, object))
        }),
      deleteObject: (bucketName, key) =>
        Effect.gen(function*() {
          const context = { operation: "DeleteObject", bucket: bucketName, key }
          yield* checkKey(context, key)
          remove(yield* getBucket(context, bucketName), key)
        }),
      deleteObjects: (bucketName, keys) =>
        Effect.gen(function*() {
          const context = { operation: "DeleteObjects", bucket: bucketName }
          let deleted = 0
          for (const batch of batches(keys, deleteBatchSize)) {
            const bucket = yield* getBucket(context, bucketName)
            for (const key of batch) {
              remove(bucket, key)
              deleted++
            }
          }
          return { deleted, errors: [] }
        }),
      copyObject: (source, target, copyOptions = {}) =>
        Effect.gen(function*() {
          const context = { operation: "CopyObject", bucket: target.bucket, key: target.key }
          yield* checkKey(context, target.key)
          const from = yield* getBucket(context, source.bucket)
          const object = from.objects.get(source.key)
          if (object === undefined) return yield* noSuchKey(context)
          if (copyOptions.ifMatch !== undefined && quoteEtag(copyOptions.ifMatch) !== object.etag) {
            return yield* preconditionFailed(context, "x-amz-copy-source-If-Match")
          }
          const to = yield* getBucket(context, target.bucket)
          const replace = copyOptions.metadata !== undefined || copyOptions.contentType !== undefined
          if (!replace && source.bucket === target.bucket && source.key === target.key) {
            return yield* fail(context, {
              reason: "Other",
              code: "InvalidRequest",
              status: 400,
              detail: "This copy request is illegal because it is trying to copy an object to itself without " +
                "changing the object's metadata, storage class, website redirect location or encryption attributes."
            })
          }
          const lastModified = yield* now
          store(to, target.key, {
            bytes: object.bytes,
            etag: object.etag,
            lastModified,
            contentType: replace ? copyOptions.contentType ?? defaultContentType : object.contentType,
            metadata: replace ? lowerKeys(copyOptions.metadata) : object.metadata
          })
          return { etag: object.etag, lastModified: Option.some(lastModified) }
        }),
      listObjects: (bucket, options) =>
        listPages(bucket, options).pipe(Stream.mapConcat((page) => page.objects)),
      listPages,
      upload: (bucket, key, body, uploadOptions) => {
        const context = { operation: "Upload", bucket, key }
        return Effect.flatMap(
          uploadSettings(context, uploadOptions, settings),
          (resolved) => Upload.upload(context, backend(bucket, key, uploadOptions ?? {}), body, resolved)
        )
      },
      listMultipartUploads: (bucketName, listOptions) =>
        Effect.map(getBucket({ operation: "ListMultipartUploads", bucket: bucketName }, bucketName), (bucket) =>
          [...bucket.uploads.values()]
            .filter((upload) => upload.key.startsWith(listOptions?.prefix ?? ""))
            .sort((a, b) => compareKeys(a.key, b.key))
            .map((upload) => ({ key: upload.key, uploadId: upload.uploadId, initiated: Option.some(upload.initiated) }))),
      abortMultipartUpload,
      presignGetObject: presign("GET"),
      presignPutObject: presign("PUT"),
      send: (command) =>
        fail({ operation: command.constructor.name.replace(/Command$/, "") }, {
          reason: "Other",
          code: "NotImplemented",
          status: 501,
          detail: "the in-memory S3 does not run SDK commands; use the service's operations, or S3.layer against a server"
        })
    }
    return instrument(service)
  })
