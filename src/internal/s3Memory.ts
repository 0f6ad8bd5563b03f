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
import type { Reason, S3Error } from "../S3Error.js"
import { defaults } from "../S3Model.js"
import type * as S3 from "../S3Model.js"
import {
  type CallContext,
  compareKeys,
  credentialsExpiry,
  failure,
  minPartSize,
  quoteEtag,
  singleUseBody
} from "./s3Common.js"
import * as S3Service from "./s3Service.js"
import type { Backend, ObjectAttributes, Page } from "./s3Service.js"
import type { CompletedPart } from "./s3Upload.js"

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

/** One in-memory S3: its buckets and the counters its ids come from. */
interface Store {
  readonly region: string
  readonly buckets: Map<string, Bucket>
  /** The `AwsCredentials` in the context the layer was built in (presign clamps to them). */
  readonly credentialsAtBuild: Option.Option<AwsCredentials["Type"]>
  requests: number
  uploads: number
}

type ObjectContext = CallContext & { readonly bucket: string; readonly key: string }

const fail = (
  store: Store,
  context: CallContext,
  fields: { reason: Reason; code: string; status: number; detail: string }
): Effect.Effect<never, S3Error> =>
  Effect.fail(failure(context, {
    ...fields,
    // A request id like S3's, so that errors look the same.
    requestId: `MEM${(++store.requests).toString(16).toUpperCase().padStart(13, "0")}`
  }))

const noSuchKey = (store: Store, context: CallContext) =>
  fail(store, context, { reason: "NoSuchKey", code: "NoSuchKey", status: 404, detail: "The specified key does not exist." })

const preconditionFailed = (store: Store, context: CallContext, condition: string) =>
  fail(store, context, {
    reason: "PreconditionFailed",
    code: "PreconditionFailed",
    status: 412,
    detail: `At least one of the pre-conditions you specified did not hold (${condition})`
  })

const getBucket = (store: Store, context: CallContext, name: string): Effect.Effect<Bucket, S3Error> =>
  Effect.suspend(() => {
    const bucket = store.buckets.get(name)
    return bucket === undefined
      ? fail(store, context, {
        reason: "NoSuchBucket",
        code: "NoSuchBucket",
        status: 404,
        detail: `The specified bucket does not exist (${name})`
      })
      : Effect.succeed(bucket)
  })

const checkKey = (store: Store, context: CallContext, key: string): Effect.Effect<void, S3Error> => {
  if (key === "") {
    return fail(store, context, {
      reason: "InvalidArgument",
      code: "InvalidArgument",
      status: 400,
      detail: "The key must not be empty."
    })
  }
  if (Buffer.byteLength(key, "utf8") > maxKeyBytes) {
    return fail(store, context, {
      reason: "ServiceError",
      code: "KeyTooLongError",
      status: 400,
      detail: `Your key is too long (more than ${maxKeyBytes} bytes of UTF-8).`
    })
  }
  return Effect.void
}

const now = Effect.map(Clock.currentTimeMillis, (millis) => DateTime.unsafeMake(millis))

const storeObject = (bucket: Bucket, key: string, object: StoredObject): void => {
  if (!bucket.objects.has(key)) bucket.keys.splice(searchKeys(bucket.keys, key, true), 0, key)
  bucket.objects.set(key, object)
}

const removeObject = (bucket: Bucket, key: string): void => {
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
  store: Store,
  context: CallContext,
  current: StoredObject | undefined,
  conditions: { readonly ifMatch?: string | undefined; readonly ifNoneMatch?: string | undefined }
): Effect.Effect<void, S3Error> => {
  if (conditions.ifNoneMatch !== undefined) {
    if (conditions.ifNoneMatch !== "*") {
      return fail(store, context, {
        reason: "NotImplemented",
        code: "NotImplemented",
        status: 501,
        detail: "If-None-Match on writes only supports \"*\"."
      })
    }
    if (current !== undefined) return preconditionFailed(store, context, "If-None-Match")
  }
  if (conditions.ifMatch !== undefined) {
    if (current === undefined) return noSuchKey(store, context)
    if (quoteEtag(conditions.ifMatch) !== current.etag) return preconditionFailed(store, context, "If-Match")
  }
  return Effect.void
}

/** Stores `bytes` (the store's own copy) under the context's key, with an MD5 entity tag. */
const write = (store: Store, context: ObjectContext, bytes: Uint8Array, options: S3.PutOptions) =>
  Effect.gen(function*() {
    yield* checkKey(store, context, context.key)
    const bucket = yield* getBucket(store, context, context.bucket)
    yield* checkConditions(store, context, bucket.objects.get(context.key), options)
    const etag = `"${md5(bytes).toString("hex")}"`
    storeObject(bucket, context.key, {
      bytes,
      etag,
      lastModified: yield* now,
      contentType: options.contentType ?? defaultContentType,
      metadata: lowerKeys(options.metadata)
    })
    return { etag, versionId: Option.none<string>() }
  })

/** Collects a stream body that `s3Service` has checked to be exactly `length` bytes. */
const putStream = (store: Store): Backend["putStream"] => (context, body, length, options) =>
  Effect.gen(function*() {
    // Fail early on a missing bucket, as S3 answers before reading the body.
    yield* getBucket(store, context, context.bucket)
    const out = new Uint8Array(length)
    let size = 0
    yield* Stream.runForEach(body, (bytes) =>
      Effect.sync(() => {
        out.set(bytes, size)
        size += bytes.length
      }))
    return yield* write(store, context, out, options)
  })

const resolveRange = (
  store: Store,
  context: CallContext,
  range: S3.Range,
  size: number
): Effect.Effect<S3.ByteRange, S3Error> => {
  const unsatisfiable = fail(store, context, {
    reason: "InvalidRange",
    code: "InvalidRange",
    status: 416,
    detail: "The requested range is not satisfiable"
  })
  if ("last" in range) {
    if (size === 0) return unsatisfiable
    return Effect.succeed({ start: Math.max(0, size - range.last), end: size - 1, size })
  }
  if (range.start >= size) return unsatisfiable
  const end = range.end === undefined ? size - 1 : Math.min(range.end, size - 1)
  return Effect.succeed({ start: range.start, end, size })
}

const getObject = (store: Store) =>
(
  context: ObjectContext,
  options: S3.GetOptions
): Effect.Effect<S3.GetObjectResult, S3Error, Scope.Scope> =>
  Effect.gen(function*() {
    const bucket = yield* getBucket(store, context, context.bucket)
    const object = bucket.objects.get(context.key)
    if (object === undefined) return yield* noSuchKey(store, context)
    if (options.ifMatch !== undefined && quoteEtag(options.ifMatch) !== object.etag) {
      return yield* preconditionFailed(store, context, "If-Match")
    }
    const range = options.range === undefined
      ? Option.none<S3.ByteRange>()
      : Option.some(yield* resolveRange(store, context, options.range, object.bytes.length))
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
      ...head(context.bucket, context.key, object),
      body: singleUseBody(context, Stream.fromIterable(slices), () => released),
      contentLength: bytes.length,
      range
    }
  })

/** Where a listing starts: after `startAfter`, or where the continuation token says. */
const listPosition = (store: Store, context: CallContext, options: S3.ListOptions, token: Option.Option<string>) => {
  if (Option.isNone(token)) return Effect.succeed<ListToken>({ after: options.startAfter ?? "" })
  const decoded = decodeToken(token.value)
  return decoded === undefined
    ? fail(store, context, {
      reason: "InvalidArgument",
      code: "InvalidArgument",
      status: 400,
      detail: "The continuation token provided is incorrect"
    })
    : Effect.succeed(decoded)
}

/**
 * One ListObjectsV2 page: keys in order from the position, a key under the last common prefix
 * skipped, common prefixes counted against the page size as S3 counts them.
 */
const listObjects = (store: Store) =>
(
  bucketName: string,
  options: S3.ListOptions,
  token: Option.Option<string>
): Effect.Effect<Page<S3.ListPage, string>, S3Error> =>
  Effect.gen(function*() {
    const context = { operation: "ListObjectsV2", bucket: bucketName }
    const bucket = yield* getBucket(store, context, bucketName)
    const position = yield* listPosition(store, context, options, token)
    const pageSize = Math.min(1000, Math.max(1, Math.floor(options.pageSize ?? 1000)))
    const prefix = options.prefix ?? ""
    const delimiter = options.delimiter === "" ? undefined : options.delimiter
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
        return { items: { objects, commonPrefixes }, next: Option.some(encodeToken(next)) }
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
    return { items: { objects, commonPrefixes }, next: Option.none() }
  })

// --- multipart ---------------------------------------------------------------------------------

const getUpload = (store: Store, context: CallContext, bucket: Bucket, uploadId: string, key: string) =>
  Effect.suspend(() => {
    const upload = bucket.uploads.get(uploadId)
    return upload === undefined || upload.key !== key
      ? fail(store, context, {
        reason: "ServiceError",
        code: "NoSuchUpload",
        status: 404,
        detail: "The specified multipart upload does not exist. The upload ID may be invalid, or the upload " +
          "may have been aborted or completed."
      })
      : Effect.succeed(upload)
  })

const createMultipartUpload = (store: Store) => (bucketName: string, key: string, attributes: ObjectAttributes) =>
  Effect.gen(function*() {
    const context = { operation: "CreateMultipartUpload", bucket: bucketName, key }
    yield* checkKey(store, context, key)
    const bucket = yield* getBucket(store, context, bucketName)
    const uploadId = crypto.createHash("sha256").update(`${bucketName}/${key}/${++store.uploads}`).digest("base64url")
    bucket.uploads.set(uploadId, {
      key,
      uploadId,
      initiated: yield* now,
      contentType: attributes.contentType ?? defaultContentType,
      metadata: lowerKeys(attributes.metadata),
      parts: new Map()
    })
    return uploadId
  })

const uploadPart = (store: Store) => (bucketName: string, key: string, uploadId: string, partNumber: number, bytes: Uint8Array) =>
  Effect.gen(function*() {
    const context = { operation: "UploadPart", bucket: bucketName, key }
    const bucket = yield* getBucket(store, context, bucketName)
    const upload = yield* getUpload(store, context, bucket, uploadId, key)
    const etag = `"${md5(bytes).toString("hex")}"`
    upload.parts.set(partNumber, { bytes: copy(bytes), etag })
    return { partNumber, etag }
  })

/** The parts a completion names, checked as S3 checks them (order, entity tags, sizes). */
const completedParts = (
  store: Store,
  context: CallContext,
  upload: PendingUpload,
  parts: ReadonlyArray<CompletedPart>
): Effect.Effect<ReadonlyArray<StoredPart>, S3Error> =>
  Effect.gen(function*() {
    // What the server answers for a completion it refuses: `EntityTooSmall` has a reason of its own.
    const invalid = (code: string, detail: string) =>
      fail(store, context, { reason: code === "EntityTooSmall" ? "EntityTooSmall" : "ServiceError", code, status: 400, detail })
    if (parts.length === 0) {
      return yield* invalid(
        "MalformedXML",
        "The XML you provided was not well-formed or did not validate against our published schema"
      )
    }
    const stored: Array<StoredPart> = []
    let previous = 0
    for (const [i, part] of parts.entries()) {
      if (part.partNumber <= previous) return yield* invalid("InvalidPartOrder", "The list of parts was not in ascending order.")
      previous = part.partNumber
      const found = upload.parts.get(part.partNumber)
      if (found === undefined || found.etag !== quoteEtag(part.etag)) {
        return yield* invalid("InvalidPart", `One or more of the specified parts could not be found (part ${part.partNumber}).`)
      }
      if (i < parts.length - 1 && found.bytes.length < minPartSize) {
        return yield* invalid(
          "EntityTooSmall",
          `Your proposed upload is smaller than the minimum allowed size (part ${part.partNumber} has ` +
            `${found.bytes.length} bytes; every part but the last needs ${minPartSize}).`
        )
      }
      stored.push(found)
    }
    return stored
  })

const completeMultipartUpload = (store: Store) =>
(
  bucketName: string,
  key: string,
  uploadId: string,
  parts: ReadonlyArray<CompletedPart>
) =>
  Effect.gen(function*() {
    const context = { operation: "CompleteMultipartUpload", bucket: bucketName, key }
    const bucket = yield* getBucket(store, context, bucketName)
    const upload = yield* getUpload(store, context, bucket, uploadId, key)
    const stored = yield* completedParts(store, context, upload, parts)
    const bytes = Buffer.concat(stored.map((part) => part.bytes))
    // S3's multipart entity tag: the MD5 of the parts' MD5s, and how many there were.
    const etag = `"${md5(Buffer.concat(stored.map((part) => md5(part.bytes)))).toString("hex")}-${stored.length}"`
    bucket.uploads.delete(uploadId)
    storeObject(bucket, key, {
      bytes,
      etag,
      lastModified: yield* now,
      contentType: upload.contentType,
      metadata: upload.metadata
    })
    return { etag, versionId: Option.none<string>() }
  })

const abortMultipartUpload = (store: Store) => (bucketName: string, key: string, uploadId: string) =>
  Effect.gen(function*() {
    const context = { operation: "AbortMultipartUpload", bucket: bucketName, key }
    const bucket = yield* getBucket(store, context, bucketName)
    yield* getUpload(store, context, bucket, uploadId, key)
    bucket.uploads.delete(uploadId)
  })

// --- buckets -----------------------------------------------------------------------------------

const createBucket = (store: Store) => (name: string, where: string) =>
  Effect.gen(function*() {
    const context = { operation: "CreateBucket", bucket: name }
    const invalid = invalidBucketName(name)
    if (invalid !== undefined) {
      return yield* fail(store, context, {
        reason: "ServiceError",
        code: "InvalidBucketName",
        status: 400,
        detail: `The specified bucket is not valid: a bucket name ${invalid}.`
      })
    }
    if (store.buckets.has(name)) {
      // us-east-1 answers success to the owner; every other region, 409.
      if (where === "us-east-1") return
      return yield* fail(store, context, {
        reason: "BucketAlreadyOwnedByYou",
        code: "BucketAlreadyOwnedByYou",
        status: 409,
        detail: "Your previous request to create the named bucket succeeded and you already own it."
      })
    }
    store.buckets.set(name, { name, region: where, created: yield* now, keys: [], objects: new Map(), uploads: new Map() })
  })

const deleteBucket = (store: Store) => (name: string) =>
  Effect.gen(function*() {
    const context = { operation: "DeleteBucket", bucket: name }
    const bucket = yield* getBucket(store, context, name)
    if (bucket.objects.size > 0 || bucket.uploads.size > 0) {
      return yield* fail(store, context, {
        reason: "BucketNotEmpty",
        code: "BucketNotEmpty",
        status: 409,
        detail: "The bucket you tried to delete is not empty"
      })
    }
    store.buckets.delete(name)
  })

const copyObject = (store: Store): Backend["copyObject"] => (source, target, options) =>
  Effect.gen(function*() {
    const context = { operation: "CopyObject", bucket: target.bucket, key: target.key }
    yield* checkKey(store, context, target.key)
    const from = yield* getBucket(store, context, source.bucket)
    const object = from.objects.get(source.key)
    if (object === undefined) return yield* noSuchKey(store, context)
    if (options.ifMatch !== undefined && quoteEtag(options.ifMatch) !== object.etag) {
      return yield* preconditionFailed(store, context, "x-amz-copy-source-If-Match")
    }
    const to = yield* getBucket(store, context, target.bucket)
    if (Option.isNone(options.replace) && source.bucket === target.bucket && source.key === target.key) {
      return yield* fail(store, context, {
        reason: "ServiceError",
        code: "InvalidRequest",
        status: 400,
        detail: "This copy request is illegal because it is trying to copy an object to itself without " +
          "changing the object's metadata, storage class, website redirect location or encryption attributes."
      })
    }
    const lastModified = yield* now
    storeObject(to, target.key, {
      bytes: object.bytes,
      etag: object.etag,
      lastModified,
      ...Option.match(options.replace, {
        onNone: () => ({ contentType: object.contentType, metadata: object.metadata }),
        onSome: (replace) => ({
          contentType: replace.contentType ?? defaultContentType,
          metadata: lowerKeys(replace.metadata)
        })
      })
    })
    return { etag: object.etag, lastModified: Option.some(lastModified) }
  })

/** Presigned URLs that cannot be fetched, clamped to the credentials in the context (if any). */
const presigner = (store: Store) => (context: ObjectContext) =>
  Effect.gen(function*() {
    yield* checkKey(store, context, context.key)
    const atCall = yield* Effect.serviceOption(AwsCredentials)
    const expiry = yield* credentialsExpiry(Option.orElse(atCall, () => store.credentialsAtBuild))
    return {
      credentialsExpiry: expiry,
      sign: (seconds: number, at: DateTime.Utc) => {
        const path = context.key.split("/").map(encodeURIComponent).join("/")
        const date = DateTime.formatIso(at).replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z")
        return Effect.succeed(
          `https://memory.s3.invalid/${context.bucket}/${path}?X-Amz-Date=${date}&X-Amz-Expires=${seconds}`
        )
      }
    }
  })

const backend = (store: Store, options: S3.MemoryOptions): Backend => ({
  region: store.region,
  settings: {
    partSize: options.partSize ?? defaults.partSize,
    concurrency: options.concurrency ?? defaults.concurrency,
    maxBytes: options.maxBytes ?? defaults.maxBytes
  },
  listBuckets: () =>
    Effect.sync(() => ({
      items: [...store.buckets.values()]
        .sort((a, b) => compareKeys(a.name, b.name))
        .map((bucket) => ({ name: bucket.name, creationDate: Option.some(bucket.created) })),
      next: Option.none()
    })),
  createBucket: createBucket(store),
  headBucket: (name) =>
    Effect.map(
      getBucket(store, { operation: "HeadBucket", bucket: name }, name),
      (bucket) => ({ bucket: name, region: Option.some(bucket.region) })
    ),
  deleteBucket: deleteBucket(store),
  putBytes: (context, body, putOptions) =>
    write(store, context, typeof body === "string" ? Buffer.from(body, "utf8") : copy(body), putOptions),
  putStream: putStream(store),
  getObject: getObject(store),
  headObject: (bucketName, key) =>
    Effect.gen(function*() {
      const context = { operation: "HeadObject", bucket: bucketName, key }
      const object = (yield* getBucket(store, context, bucketName)).objects.get(key)
      return object === undefined ? yield* noSuchKey(store, context) : head(bucketName, key, object)
    }),
  deleteObject: (bucketName, key) =>
    Effect.gen(function*() {
      const context = { operation: "DeleteObject", bucket: bucketName, key }
      yield* checkKey(store, context, key)
      removeObject(yield* getBucket(store, context, bucketName), key)
    }),
  deleteBatch: (bucketName, keys) =>
    Effect.map(getBucket(store, { operation: "DeleteObjects", bucket: bucketName }, bucketName), (bucket) => {
      for (const key of keys) removeObject(bucket, key)
      return []
    }),
  copyObject: copyObject(store),
  listObjects: listObjects(store),
  createMultipartUpload: createMultipartUpload(store),
  uploadPart: uploadPart(store),
  completeMultipartUpload: completeMultipartUpload(store),
  abortMultipartUpload: abortMultipartUpload(store),
  listMultipartUploads: (bucketName, prefix) =>
    Effect.map(getBucket(store, { operation: "ListMultipartUploads", bucket: bucketName }, bucketName), (bucket) => ({
      items: [...bucket.uploads.values()]
        .filter((upload) => upload.key.startsWith(prefix ?? ""))
        .sort((a, b) => compareKeys(a.key, b.key))
        .map((upload) => ({ key: upload.key, uploadId: upload.uploadId, initiated: Option.some(upload.initiated) })),
      next: Option.none()
    })),
  presigner: presigner(store),
  send: (command) =>
    fail(store, { operation: command.constructor.name.replace(/Command$/, "") }, {
      reason: "NotImplemented",
      code: "NotImplemented",
      status: 501,
      detail: "the in-memory S3 does not run SDK commands; use the service's operations, or S3.layer against a server"
    })
})

/** Builds the in-memory service (one empty store per call). */
export const make = (options: S3.MemoryOptions): Effect.Effect<S3.Service> =>
  Effect.map(Effect.serviceOption(AwsCredentials), (credentialsAtBuild) =>
    S3Service.make(backend({
      region: options.region ?? "us-east-1",
      buckets: new Map(),
      credentialsAtBuild,
      requests: 0,
      uploads: 0
    }, options)))
