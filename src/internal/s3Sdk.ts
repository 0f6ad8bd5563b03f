/**
 * `S3.layer`: the S3 service on `@aws-sdk/client-s3`. Loaded on demand by `S3.ts`, so importing
 * the package does not load the SDK.
 *
 * One client per layer scope, destroyed when it closes. Its `credentials` is a provider function
 * marked `memoized`, so that the SDK calls it for every request instead of caching credentials
 * itself: every request (every part of an upload) signs with what `AwsCredentials.get` serves at
 * that moment, and the client is never rebuilt for a refresh.
 *
 * Everything the SDK would read from `process.env` or `~/.aws` (region, endpoint, retry mode,
 * checksum settings, FIPS and dual-stack, app id, ...) is given explicitly: the region from
 * `AwsRegion`, the endpoint from the options or from `Config` and the session's profile
 * (`configuredEndpoint.ts`, botocore's order), the rest from the options. The SDK makes one
 * attempt per call; timeouts, retries (jittered exponential backoff for throttling, 5xx,
 * timeouts and connection errors) and the one retry after `ExpiredToken` / `InvalidToken` (with
 * `AwsCredentials.invalidate` first) are done here, in Effect.
 */
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListBucketsCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand
} from "@aws-sdk/client-s3"
import * as NodeStream from "@effect/platform-node/NodeStream"
import { SignatureV4 } from "@smithy/signature-v4"
import * as Clock from "effect/Clock"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as crypto from "node:crypto"
import { Readable } from "node:stream"
import { AwsCredentials, toAwsSdkProvider } from "../AwsCredentials.js"
import { AwsRegion } from "../AwsRegion.js"
import { AwsSession, type Service as Session } from "../AwsSession.js"
import * as Credentials from "../Credentials.js"
import { bounded } from "../CredentialsError.js"
import * as ProfileFile from "../ProfileFile.js"
import type * as S3 from "../S3.js"
import { defaults } from "../S3.js"
import * as ConfiguredEndpoint from "./configuredEndpoint.js"
import {
  batches,
  type CallContext,
  deleteBatchSize,
  failure,
  instrument,
  parseContentRange,
  presignLifetime,
  rangeHeader,
  readBody,
  uploadSettings
} from "./s3Common.js"
import * as Upload from "./s3Upload.js"

/** S3 as endpoint configuration names it (`AWS_ENDPOINT_URL_S3`, `s3 =` in `[services]`). */
const s3Service: ConfiguredEndpoint.ServiceId = { env: "S3", key: "s3" }

/** Without an `AwsSession` in the context: no profile, so only the environment configures S3. */
const noSession: Session = {
  profileName: "default",
  profileSource: "default",
  explicitCredentials: Option.none(),
  explicitRegion: Option.none(),
  home: Option.none(),
  configFile: { path: undefined, exists: false },
  credentialsFile: { path: undefined, exists: false },
  profiles: ProfileFile.empty,
  profile: Option.none()
}

const throttlingCodes = new Set([
  "SlowDown",
  "Throttling",
  "ThrottlingException",
  "ThrottledException",
  "RequestThrottled",
  "RequestLimitExceeded",
  "TooManyRequests",
  "TooManyRequestsException",
  "ServiceUnavailable",
  "RequestThrottledException",
  "BandwidthLimitExceeded"
])

/** Codes that mean "these credentials' session is over": invalidate and retry once. */
const tokenCodes = new Set(["ExpiredToken", "InvalidToken", "TokenRefreshRequired"])

const reasons: Record<string, S3.Reason> = {
  NoSuchKey: "NoSuchKey",
  NoSuchBucket: "NoSuchBucket",
  AccessDenied: "AccessDenied",
  AllAccessDisabled: "AccessDenied",
  InvalidAccessKeyId: "InvalidAccessKeyId",
  SignatureDoesNotMatch: "SignatureDoesNotMatch",
  ExpiredToken: "ExpiredToken",
  PreconditionFailed: "PreconditionFailed",
  BucketAlreadyOwnedByYou: "BucketAlreadyOwnedByYou",
  RequestTimeout: "Timeout"
}

const record = (u: unknown): Record<string, unknown> =>
  typeof u === "object" && u !== null ? u as Record<string, unknown> : {}

const transportCodes = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "EPIPE",
  "ETIMEDOUT",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ECONNABORTED",
  "UND_ERR_SOCKET"
])

/** Worth another attempt: throttling, timeouts, 5xx, connection trouble. */
const isTransient = (error: S3.S3Error): boolean =>
  error.reason === "Throttled" || error.reason === "Timeout" ||
  (error.status !== undefined && error.status >= 500 && error.code !== "NotImplemented") ||
  (error.status === undefined && error.code !== undefined && transportCodes.has(error.code))

const encodeKey = (key: string): string => key.split("/").map(encodeURIComponent).join("/")

const toDateTime = (date: Date | undefined): Option.Option<DateTime.Utc> =>
  date instanceof Date && !Number.isNaN(date.getTime()) ? Option.some(DateTime.unsafeMake(date)) : Option.none()

const epoch = DateTime.unsafeMake(0)

/** Builds the SDK-backed service for the current scope. */
export const make = (
  options: S3.Options
): Effect.Effect<S3.Service, S3.S3Error, AwsCredentials | AwsRegion | Scope.Scope> =>
  Effect.gen(function*() {
    const credentials = yield* AwsCredentials
    const region = (yield* AwsRegion).name
    const session = Option.getOrElse(yield* Effect.serviceOption(AwsSession), () => noSession)
    const compat = options.compat ?? "aws"
    const maxAttempts = Math.max(1, Math.floor(options.maxAttempts ?? defaults.maxAttempts))
    const timeout = options.timeout === undefined
      ? Duration.millis(defaults.timeoutMillis)
      : Duration.decode(options.timeout)
    const idleTimeout = options.idleTimeout === undefined ? timeout : Duration.decode(options.idleTimeout)
    const settings = {
      partSize: options.partSize ?? defaults.partSize,
      concurrency: options.concurrency ?? defaults.concurrency,
      maxBytes: options.maxBytes ?? defaults.maxBytes
    }

    const configured = yield* ConfiguredEndpoint.resolve({
      session,
      profileName: session.profileName,
      service: s3Service,
      source: "explicit"
    }).pipe(
      Effect.mapError((error) =>
        failure({ operation: "Configure" }, { reason: "Other", code: "InvalidConfiguration", detail: error.detail })
      )
    )
    let endpoint = Option.map(configured.endpoint, (e) => e.url)
    if (options.endpoint !== undefined && options.endpoint !== "") {
      let url: URL | undefined
      try {
        url = new URL(options.endpoint)
      } catch {
        url = undefined
      }
      if (url === undefined || (url.protocol !== "http:" && url.protocol !== "https:")) {
        return yield* failure({ operation: "Configure" }, {
          reason: "Other",
          code: "InvalidConfiguration",
          detail: `the endpoint option is not an http(s) URL: "${bounded(options.endpoint, 200)}"`
        })
      }
      endpoint = Option.some(options.endpoint)
    }
    // botocore's `s3 = \n  addressing_style = path` in the profile.
    const addressingStyle = Option.flatMap(session.profile, (profile) => ProfileFile.property(profile, "s3")).pipe(
      Option.flatMap((p) => Option.fromNullable(ProfileFile.subProperties(p.value).get("addressing_style")))
    )
    const forcePathStyle = options.forcePathStyle ??
      (compat === "s3-compatible" || Option.getOrUndefined(addressingStyle) === "path")

    // Secrets handed to the SDK lately: scrubbed from any text a server sends back.
    const recentSecrets: Array<string> = []
    const provider = yield* toAwsSdkProvider
    const sdkCredentials = Object.assign(
      (providerOptions?: { readonly forceRefresh?: boolean }) =>
        provider(providerOptions).then((identity) => {
          if (!recentSecrets.includes(identity.secretAccessKey)) {
            recentSecrets.unshift(identity.secretAccessKey, ...(identity.sessionToken === undefined ? [] : [identity.sessionToken]))
            recentSecrets.length = Math.min(recentSecrets.length, 6)
          }
          return identity
        }),
      // Marks the provider as caching by itself: the SDK then calls it for every request.
      { memoized: true }
    )
    const scrub = (text: string): string => {
      let out = text
      for (const secret of recentSecrets) {
        if (secret.length >= 8) out = out.split(secret).join("<redacted>")
      }
      return bounded(out, 300)
    }

    const timeoutMs = Duration.toMillis(timeout)
    const client = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const created = new S3Client({
          region,
          ...(Option.isSome(endpoint) ? { endpoint: endpoint.value } : {}),
          forcePathStyle,
          credentials: sdkCredentials,
          maxAttempts: 1,
          retryMode: "standard",
          defaultsMode: "standard",
          requestChecksumCalculation: compat === "s3-compatible" ? "WHEN_REQUIRED" : "WHEN_SUPPORTED",
          responseChecksumValidation: compat === "s3-compatible" ? "WHEN_REQUIRED" : "WHEN_SUPPORTED",
          useFipsEndpoint: configured.useFipsEndpoint,
          useDualstackEndpoint: configured.useDualstackEndpoint,
          useArnRegion: false,
          disableS3ExpressSessionAuth: false,
          ignoreConfiguredEndpointUrls: true,
          authSchemePreference: [],
          sigv4aSigningRegionSet: [],
          userAgentAppId: () => Promise.resolve(undefined),
          requestHandler: {
            connectionTimeout: timeoutMs,
            socketTimeout: Math.max(timeoutMs, Duration.toMillis(idleTimeout))
          }
        })
        if (compat === "s3-compatible") {
          // Servers that predate the SDK's CRC32 default (Swift, older Ceph and MinIO) require
          // Content-MD5 where S3 requires a checksum: on DeleteObjects.
          created.middlewareStack.add(
            (next, context) => (args) => {
              const request = args.request as { headers?: Record<string, string>; body?: unknown }
              if (context.commandName === "DeleteObjectsCommand" && request.headers !== undefined) {
                const body = request.body
                if (typeof body === "string" || body instanceof Uint8Array) {
                  request.headers["content-md5"] = crypto.createHash("md5").update(body).digest("base64")
                }
              }
              return next(args)
            },
            { step: "build", name: "effectAwsCredentialsContentMd5", override: true }
          )
        }
        return created
      }),
      (c) => Effect.sync(() => c.destroy())
    )

    /** The SDK's exception (or a transport error) as an `S3Error`, keeping no body and no secret. */
    const toError = (context: CallContext, error: unknown): S3.S3Error => {
      const e = record(error)
      const metadata = record(e.$metadata)
      const status = typeof metadata.httpStatusCode === "number" ? metadata.httpStatusCode : undefined
      const requestId = typeof metadata.requestId === "string" ? metadata.requestId : undefined
      const name = typeof e.name === "string" ? e.name : "Error"
      const message = typeof e.message === "string" ? scrub(e.message) : ""
      if (name === "TimeoutError" || e.code === "ETIMEDOUT") {
        return failure(context, { reason: "Timeout", code: "ETIMEDOUT", detail: `no answer: ${message}` })
      }
      if (typeof e.$fault === "string" || status !== undefined) {
        // A HEAD answer has no body: only its status says what happened.
        const code = /^\d+$/.test(name) || name === "UnknownError" || name === "Unknown"
          ? undefined
          : name === "NotFound"
          ? (context.key === undefined ? "NoSuchBucket" : "NoSuchKey")
          : name === "Forbidden"
          ? "AccessDenied"
          : name
        let reason: S3.Reason = code === undefined ? "Other" : reasons[code] ?? "Other"
        if (code === undefined) {
          if (status === 404) reason = context.key === undefined ? "NoSuchBucket" : "NoSuchKey"
          else if (status === 403) reason = "AccessDenied"
          else if (status === 412) reason = "PreconditionFailed"
        }
        if (reason === "Other" && ((code !== undefined && throttlingCodes.has(code)) || status === 429 || status === 503)) {
          reason = "Throttled"
        }
        const detail = message !== "" && message !== name && message !== "UnknownError"
          ? message
          : `the server answered HTTP ${status ?? "?"}${code === undefined ? " without details" : ` ${code}`}`
        return failure(context, { reason, code: code ?? (status === undefined ? undefined : `HTTP ${status}`), status, requestId, detail })
      }
      const code = typeof e.code === "string" ? e.code : name
      return failure(context, {
        reason: "Other",
        code,
        detail: `${Option.getOrElse(endpoint, () => "S3")} could not be reached or the connection failed: ${
          message === "" ? code : message
        }`
      })
    }

    const schedule = Schedule.exponential(Duration.millis(100)).pipe(
      Schedule.jittered,
      Schedule.intersect(Schedule.recurs(maxAttempts - 1))
    )

    /**
     * One S3 call: `replayable` calls are retried and, after `ExpiredToken` / `InvalidToken`, made
     * once more with fresh credentials; `bounded` calls (no body to stream) get the timeout.
     */
    const call = <A>(
      context: CallContext,
      send: (signal: AbortSignal) => Promise<A>,
      policy: { readonly replayable: boolean; readonly bounded: boolean } = { replayable: true, bounded: true }
    ): Effect.Effect<A, S3.S3Error> => {
      const attempt = Effect.tryPromise({ try: send, catch: (error) => toError(context, error) })
      const timed = policy.bounded
        ? Effect.timeoutFail(attempt, {
          duration: timeout,
          onTimeout: () =>
            failure(context, { reason: "Timeout", detail: `no answer within ${Duration.format(timeout)}` })
        })
        : attempt
      const retried = policy.replayable ? Effect.retry(timed, { schedule, while: isTransient }) : timed
      return Effect.catchIf(
        retried,
        (error) =>
          (error.code !== undefined && tokenCodes.has(error.code)) ||
          // A HEAD answer has no body, so no error code: S3 answers an expired or invalid token
          // with 400, which a HEAD gets for little else.
          (error.status === 400 && (error.code === "HTTP 400" || error.code === "BadRequest")),
        (error) =>
          Effect.zipRight(
            Effect.logDebug(`S3 ${context.operation}: ${error.code}, invalidating the credentials`),
            Effect.zipRight(credentials.invalidate, policy.replayable ? retried : Effect.fail(error))
          )
      )
    }

    const head = (context: CallContext & { bucket: string; key: string }, output: {
      readonly ContentLength?: number | undefined
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

    const checkRange = (context: CallContext, range: S3.Range | undefined): Effect.Effect<void, S3.S3Error> => {
      if (range === undefined) return Effect.void
      const ok = "last" in range
        ? Number.isSafeInteger(range.last) && range.last >= 1
        : Number.isSafeInteger(range.start) && range.start >= 0 &&
          (range.end === undefined || (Number.isSafeInteger(range.end) && range.end >= range.start))
      return ok ? Effect.void : Effect.fail(failure(context, {
        reason: "Other",
        code: "InvalidArgument",
        detail: `not a byte range: ${JSON.stringify(range)} (start >= 0, end >= start, last >= 1, whole numbers)`
      }))
    }

    const putObject = <E, R>(
      bucket: string,
      key: string,
      body: Uint8Array | string | Stream.Stream<Uint8Array, E, R>,
      putOptions: S3.PutOptions = {}
    ): Effect.Effect<S3.PutResult, S3.S3Error | E, R> => {
      const context = { operation: "PutObject", bucket, key }
      const input = {
        Bucket: bucket,
        Key: key,
        ContentType: putOptions.contentType,
        Metadata: putOptions.metadata === undefined ? undefined : { ...putOptions.metadata },
        IfMatch: putOptions.ifMatch,
        IfNoneMatch: putOptions.ifNoneMatch
      }
      if (typeof body === "string" || body instanceof Uint8Array) {
        return Effect.map(
          call(
            context,
            (signal) => client.send(new PutObjectCommand({ ...input, Body: body }), { abortSignal: signal }),
            { replayable: true, bounded: false }
          ),
          written
        )
      }
      const length = putOptions.contentLength
      if (length === undefined || !Number.isSafeInteger(length) || length < 0) {
        return Effect.fail(failure(context, {
          reason: "Other",
          code: "MissingContentLength",
          detail: "a stream body needs its length in bytes (contentLength); for a stream of unknown length use upload"
        }))
      }
      return Effect.gen(function*() {
        // When the body fails (or has the wrong length), its error is kept and the request is
        // aborted; the readable handed to the SDK never errors itself, because the SDK's
        // aws-chunked wrapper would not pass the error on to the request (which would then
        // wait for the rest of the body until the socket timed out).
        let bodyFailure: Option.Option<S3.S3Error | E> = Option.none()
        const controller = new AbortController()
        let seen = 0
        const checked = body.pipe(
          Stream.mapEffect((bytes) => {
            seen += bytes.length
            return seen > length
              ? Effect.fail(failure(context, {
                reason: "Other",
                code: "BodyLengthMismatch",
                detail: `the body stream is longer than contentLength (${length} bytes)`
              }))
              : Effect.succeed(bytes)
          }),
          Stream.concat(Stream.suspend(() =>
            seen === length ? Stream.empty : Stream.fail(failure(context, {
              reason: "Other",
              code: "BodyLengthMismatch",
              detail: `the body stream ended after ${seen} bytes, short of contentLength (${length} bytes)`
            }))
          )),
          Stream.catchAll((error) =>
            Stream.fromEffect(Effect.sync(() => {
              bodyFailure = Option.some(error)
              controller.abort()
            })).pipe(Stream.drain, Stream.concat(Stream.never))
          )
        )
        const readable = yield* NodeStream.toReadable(checked)
        const output = yield* call(
          context,
          (signal) =>
            client.send(new PutObjectCommand({ ...input, Body: readable, ContentLength: length }), {
              abortSignal: AbortSignal.any([signal, controller.signal])
            }),
          { replayable: false, bounded: false }
        ).pipe(
          Effect.catchAll((error): Effect.Effect<never, S3.S3Error | E> =>
            Effect.fail(Option.getOrElse(bodyFailure, () => error))
          ),
          Effect.ensuring(Effect.sync(() => readable.destroy()))
        )
        return written(output)
      })
    }

    const getObject = (
      bucket: string,
      key: string,
      getOptions: S3.GetOptions = {}
    ): Effect.Effect<S3.GetObjectResult, S3.S3Error, Scope.Scope> =>
      Effect.gen(function*() {
        const context = { operation: "GetObject", bucket, key }
        yield* checkRange(context, getOptions.range)
        const output = yield* call(context, (signal) =>
          client.send(
            new GetObjectCommand({
              Bucket: bucket,
              Key: key,
              Range: getOptions.range === undefined ? undefined : rangeHeader(getOptions.range),
              IfMatch: getOptions.ifMatch
            }),
            { abortSignal: signal }
          ))
        const raw = output.Body as unknown
        const readable = raw instanceof Readable ? raw : undefined
        // Released with the scope, whether or not the body was read.
        yield* Effect.addFinalizer(() => Effect.sync(() => readable?.destroy()))
        const idle = getOptions.idleTimeout === undefined ? idleTimeout : Duration.decode(getOptions.idleTimeout)
        const body = readable === undefined
          ? Stream.empty
          : NodeStream.fromReadable<S3.S3Error, Uint8Array>(() => readable, (error) => {
            const mapped = toError(context, error)
            return mapped.reason === "Timeout" ? mapped : failure(context, {
              reason: "Other",
              code: mapped.code,
              detail: `reading the body failed: ${mapped.detail}`
            })
          }).pipe(
            Stream.timeoutFail(
              () => failure(context, { reason: "Timeout", detail: `no body bytes for ${Duration.format(idle)}` }),
              idle
            )
          )
        const contentLength = output.ContentLength ?? 0
        const range = parseContentRange(output.ContentRange)
        const size = Option.match(range, {
          onNone: () => contentLength,
          onSome: (r) => (Number.isNaN(r.size) ? contentLength : r.size)
        })
        return { ...head(context, output, size), body, contentLength, range }
      })

    const read = (bucket: string, key: string, readOptions: S3.ReadOptions = {}) =>
      Effect.scoped(
        Effect.flatMap(
          getObject(bucket, key, readOptions),
          (result) => readBody({ operation: "GetObject", bucket, key }, result, readOptions.maxBytes ?? settings.maxBytes)
        )
      )

    const listPages = (bucket: string, listOptions: S3.ListOptions = {}): Stream.Stream<S3.ListPage, S3.S3Error> =>
      Stream.paginateEffect(
        undefined as string | undefined,
        (token) =>
          Effect.map(
            call({ operation: "ListObjectsV2", bucket }, (signal) =>
              client.send(
                new ListObjectsV2Command({
                  Bucket: bucket,
                  Prefix: listOptions.prefix,
                  Delimiter: listOptions.delimiter,
                  StartAfter: listOptions.startAfter,
                  MaxKeys: listOptions.pageSize === undefined
                    ? undefined
                    : Math.min(1000, Math.max(1, Math.floor(listOptions.pageSize))),
                  ContinuationToken: token
                }),
                { abortSignal: signal }
              )),
            (output) =>
              [
                {
                  objects: (output.Contents ?? []).map((object): S3.ObjectSummary => ({
                    key: object.Key ?? "",
                    size: object.Size ?? 0,
                    etag: object.ETag ?? "",
                    lastModified: Option.getOrElse(toDateTime(object.LastModified), () => epoch),
                    storageClass: Option.fromNullable(object.StorageClass)
                  })),
                  commonPrefixes: (output.CommonPrefixes ?? []).flatMap((p) => (p.Prefix === undefined ? [] : [p.Prefix]))
                },
                output.IsTruncated === true && output.NextContinuationToken !== undefined
                  ? Option.some<string | undefined>(output.NextContinuationToken)
                  : Option.none()
              ] as const
          )
      )

    const backend = (bucket: string, key: string, uploadOptions: S3.UploadOptions): Upload.Backend => {
      const base = {
        Bucket: bucket,
        Key: key
      }
      return {
        putObject: (bytes) =>
          Effect.map(
            call(
              { operation: "PutObject", bucket, key },
              (signal) =>
                client.send(
                  new PutObjectCommand({
                    ...base,
                    Body: bytes,
                    ContentType: uploadOptions.contentType,
                    Metadata: uploadOptions.metadata === undefined ? undefined : { ...uploadOptions.metadata }
                  }),
                  { abortSignal: signal }
                ),
              { replayable: true, bounded: false }
            ),
            written
          ),
        create: Effect.flatMap(
          call({ operation: "CreateMultipartUpload", bucket, key }, (signal) =>
            client.send(
              new CreateMultipartUploadCommand({
                ...base,
                ContentType: uploadOptions.contentType,
                Metadata: uploadOptions.metadata === undefined ? undefined : { ...uploadOptions.metadata }
              }),
              { abortSignal: signal }
            )),
          (output) =>
            output.UploadId === undefined
              ? Effect.fail(failure({ operation: "CreateMultipartUpload", bucket, key }, {
                reason: "Other",
                code: "InvalidResponse",
                detail: "the answer has no UploadId"
              }))
              : Effect.succeed(output.UploadId)
        ),
        uploadPart: (uploadId, partNumber, bytes) =>
          Effect.map(
            call(
              { operation: "UploadPart", bucket, key },
              (signal) =>
                client.send(
                  new UploadPartCommand({ ...base, UploadId: uploadId, PartNumber: partNumber, Body: bytes }),
                  { abortSignal: signal }
                ),
              { replayable: true, bounded: false }
            ).pipe(
              Effect.withSpan("S3.uploadPart", {
                kind: "client",
                attributes: { "aws.s3.bucket": bucket, "aws.s3.key": key, "aws.s3.part_number": partNumber }
              })
            ),
            (output) => {
              const checksums: Record<string, string> = {}
              for (const name of ["ChecksumCRC32", "ChecksumCRC32C", "ChecksumCRC64NVME", "ChecksumSHA1", "ChecksumSHA256"] as const) {
                const value = output[name]
                if (value !== undefined) checksums[name] = value
              }
              return { partNumber, etag: output.ETag ?? "", checksums }
            }
          ),
        complete: (uploadId, parts) =>
          Effect.map(
            call({ operation: "CompleteMultipartUpload", bucket, key }, (signal) =>
              client.send(
                new CompleteMultipartUploadCommand({
                  ...base,
                  UploadId: uploadId,
                  MultipartUpload: {
                    Parts: parts.map((part) => ({ PartNumber: part.partNumber, ETag: part.etag, ...part.checksums }))
                  }
                }),
                { abortSignal: signal }
              )),
            written
          ),
        abort: (uploadId) =>
          Effect.asVoid(
            call({ operation: "AbortMultipartUpload", bucket, key }, (signal) =>
              client.send(new AbortMultipartUploadCommand({ ...base, UploadId: uploadId }), { abortSignal: signal }))
          )
      }
    }

    /** The request the SDK would send for `command`, stopped before it is signed. */
    const unsignedRequest = (
      context: CallContext,
      command: GetObjectCommand | PutObjectCommand
    ): Effect.Effect<{
      readonly protocol: string
      readonly hostname: string
      readonly port: number | undefined
      readonly path: string
      readonly query: Record<string, string | Array<string> | null>
      readonly signingRegion: string
    }, S3.S3Error> =>
      Effect.tryPromise({
        try: async () => {
          const stack = client.middlewareStack.clone()
          let captured: unknown
          let signingRegion: unknown
          stack.addRelativeTo(
            (_next: unknown, handlerContext: Record<string, unknown>) => (args: { readonly request: unknown }) => {
              captured = args.request
              const scheme = record(handlerContext.selectedHttpAuthScheme)
              signingRegion = record(scheme.signingProperties).signing_region
              return Promise.resolve({ output: { $metadata: {} }, response: {} })
            },
            { relation: "before", toMiddleware: "httpSigningMiddleware", name: "effectAwsCredentialsPresign", override: true }
          )
          const handler = command.resolveMiddleware(stack as never, client.config, {})
          await handler({ input: command.input } as never)
          const request = record(captured)
          return {
            protocol: typeof request.protocol === "string" ? request.protocol : "https:",
            hostname: String(request.hostname),
            port: typeof request.port === "number" ? request.port : undefined,
            path: typeof request.path === "string" ? request.path : "/",
            query: { ...record(request.query) } as Record<string, string | Array<string> | null>,
            signingRegion: typeof signingRegion === "string" ? signingRegion : region
          }
        },
        catch: (error) => toError(context, error)
      })

    const presign = (method: "GET" | "PUT") =>
    (
      bucket: string,
      key: string,
      presignOptions: S3.PresignOptions = {}
    ): Effect.Effect<S3.PresignedUrl, S3.S3Error> =>
      Effect.gen(function*() {
        const context = { operation: method === "GET" ? "GetObject" : "PutObject", bucket, key }
        const current = yield* credentials.get.pipe(
          Effect.mapError((error) =>
            failure(context, { reason: "Other", code: "CredentialsError", detail: `no credentials to sign with: ${error.message}` })
          )
        )
        const now = DateTime.unsafeMake(yield* Clock.currentTimeMillis)
        const lifetime = yield* presignLifetime({
          context,
          requested: presignOptions.expiresIn,
          now,
          credentialsExpiry: current.expiration
        })
        const request = yield* unsignedRequest(
          context,
          method === "GET"
            ? new GetObjectCommand({ Bucket: bucket, Key: key })
            : new PutObjectCommand({ Bucket: bucket, Key: key })
        )
        const host = request.port === undefined ? request.hostname : `${request.hostname}:${request.port}`
        const signer = new SignatureV4({
          service: "s3",
          region: request.signingRegion,
          credentials: Credentials.toAwsIdentity(current),
          sha256: client.config.sha256,
          uriEscapePath: false,
          applyChecksum: false
        })
        const signed = yield* Effect.tryPromise({
          try: () =>
            signer.presign(
              {
                method,
                protocol: request.protocol,
                hostname: request.hostname,
                ...(request.port === undefined ? {} : { port: request.port }),
                path: request.path,
                query: request.query,
                // Presigned S3 URLs sign no payload: whoever uses the URL sends the body.
                headers: { host, "x-amz-content-sha256": "UNSIGNED-PAYLOAD" }
              },
              {
                expiresIn: lifetime.seconds,
                signingDate: DateTime.toDate(now),
                unsignableHeaders: new Set(["content-type"])
              }
            ),
          catch: (error) =>
            failure(context, {
              reason: "Other",
              code: "SigningFailed",
              detail: `could not sign the URL: ${error instanceof Error ? error.name : "unknown error"}`
            })
        })
        const search = Object.entries(signed.query ?? {})
          .flatMap(([name, value]) =>
            (value === null || value === undefined ? [] : Array.isArray(value) ? value : [value]).map((v) =>
              `${escape(name)}=${escape(v)}`
            )
          )
          .join("&")
        return {
          url: `${request.protocol}//${host}${request.path}${search === "" ? "" : `?${search}`}`,
          method,
          expiresAt: lifetime.expiresAt,
          expiresIn: Duration.seconds(lifetime.seconds),
          requested: lifetime.requested,
          clampedBy: lifetime.clampedBy
        }
      })

    const service: S3.Service = {
      listBuckets: Effect.gen(function*() {
        const out: Array<S3.BucketInfo> = []
        let token: string | undefined
        do {
          const output = yield* call({ operation: "ListBuckets" }, (signal) =>
            client.send(new ListBucketsCommand({ ContinuationToken: token }), { abortSignal: signal }))
          for (const bucket of output.Buckets ?? []) {
            if (bucket.Name !== undefined) out.push({ name: bucket.Name, creationDate: toDateTime(bucket.CreationDate) })
          }
          token = output.ContinuationToken
        } while (token !== undefined && token !== "")
        return out
      }),
      createBucket: (bucket, createOptions) => {
        const where = createOptions?.region ?? region
        return Effect.asVoid(call({ operation: "CreateBucket", bucket }, (signal) =>
          client.send(
            new CreateBucketCommand({
              Bucket: bucket,
              ...(where === "us-east-1" ? {} : { CreateBucketConfiguration: { LocationConstraint: where as never } })
            }),
            { abortSignal: signal }
          )))
      },
      headBucket: (bucket) =>
        Effect.map(
          call({ operation: "HeadBucket", bucket }, (signal) =>
            client.send(new HeadBucketCommand({ Bucket: bucket }), { abortSignal: signal })),
          (output) => ({ bucket, region: Option.fromNullable(output.BucketRegion) })
        ),
      deleteBucket: (bucket) =>
        Effect.asVoid(call({ operation: "DeleteBucket", bucket }, (signal) =>
          client.send(new DeleteBucketCommand({ Bucket: bucket }), { abortSignal: signal }))),
      putObject: putObject as S3.PutObject,
      getObject,
      getObjectText: (bucket, key, readOptions) =>
        Effect.map(read(bucket, key, readOptions), (bytes) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString("utf8")),
      getObjectBytes: read,
      headObject: (bucket, key) => {
        const context = { operation: "HeadObject", bucket, key }
        return call(context, (signal) => client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }), { abortSignal: signal })).pipe(
          Effect.map((output) => Option.some(head(context, output, output.ContentLength ?? 0))),
          Effect.catchIf(
            (error) => error.reason === "NoSuchKey" || error.reason === "NoSuchBucket",
            () => Effect.succeedNone
          )
        )
      },
      deleteObject: (bucket, key) =>
        Effect.asVoid(call({ operation: "DeleteObject", bucket, key }, (signal) =>
          client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }), { abortSignal: signal }))),
      deleteObjects: (bucket, keys) =>
        Effect.gen(function*() {
          let deleted = 0
          const errors: Array<S3.DeleteFailure> = []
          for (const batch of batches(keys, deleteBatchSize)) {
            const output = yield* call({ operation: "DeleteObjects", bucket }, (signal) =>
              client.send(
                new DeleteObjectsCommand({
                  Bucket: bucket,
                  Delete: { Objects: batch.map((key) => ({ Key: key })), Quiet: true }
                }),
                { abortSignal: signal }
              ))
            const refused = (output.Errors ?? []).map((error) => ({
              key: error.Key ?? "",
              code: error.Code ?? "Unknown",
              message: scrub(error.Message ?? "")
            }))
            errors.push(...refused)
            deleted += batch.length - refused.length
          }
          return { deleted, errors }
        }),
      copyObject: (source, target, copyOptions = {}) => {
        const replace = copyOptions.metadata !== undefined || copyOptions.contentType !== undefined
        return Effect.map(
          call({ operation: "CopyObject", bucket: target.bucket, key: target.key }, (signal) =>
            client.send(
              new CopyObjectCommand({
                Bucket: target.bucket,
                Key: target.key,
                CopySource: `${source.bucket}/${encodeKey(source.key)}`,
                CopySourceIfMatch: copyOptions.ifMatch,
                ...(replace
                  ? {
                    MetadataDirective: "REPLACE" as const,
                    ContentType: copyOptions.contentType,
                    Metadata: { ...copyOptions.metadata }
                  }
                  : {})
              }),
              { abortSignal: signal }
            )),
          (output) => ({
            etag: output.CopyObjectResult?.ETag ?? "",
            lastModified: toDateTime(output.CopyObjectResult?.LastModified)
          })
        )
      },
      listObjects: (bucket, listOptions) => listPages(bucket, listOptions).pipe(Stream.mapConcat((page) => page.objects)),
      listPages,
      upload: (bucket, key, body, uploadOptions) => {
        const context = { operation: "Upload", bucket, key }
        return Effect.flatMap(
          uploadSettings(context, uploadOptions, settings),
          (resolved) => Upload.upload(context, backend(bucket, key, uploadOptions ?? {}), body, resolved)
        )
      },
      listMultipartUploads: (bucket, listOptions) =>
        Effect.gen(function*() {
          const out: Array<S3.MultipartUploadInfo> = []
          let keyMarker: string | undefined
          let uploadIdMarker: string | undefined
          while (true) {
            const output = yield* call({ operation: "ListMultipartUploads", bucket }, (signal) =>
              client.send(
                new ListMultipartUploadsCommand({
                  Bucket: bucket,
                  Prefix: listOptions?.prefix,
                  KeyMarker: keyMarker,
                  UploadIdMarker: uploadIdMarker
                }),
                { abortSignal: signal }
              ))
            for (const upload of output.Uploads ?? []) {
              if (upload.Key !== undefined && upload.UploadId !== undefined) {
                out.push({ key: upload.Key, uploadId: upload.UploadId, initiated: toDateTime(upload.Initiated) })
              }
            }
            if (output.IsTruncated !== true) return out
            keyMarker = output.NextKeyMarker
            uploadIdMarker = output.NextUploadIdMarker
          }
        }),
      abortMultipartUpload: (bucket, key, uploadId) =>
        Effect.asVoid(call({ operation: "AbortMultipartUpload", bucket, key }, (signal) =>
          client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId }), {
            abortSignal: signal
          }))),
      presignGetObject: presign("GET"),
      presignPutObject: presign("PUT"),
      send: <Output>(command: S3.SdkCommand<Output>) => {
        const input = command.input as { readonly Bucket?: unknown; readonly Key?: unknown; readonly Body?: unknown }
        const streamed = input.Body !== undefined && typeof input.Body !== "string" && !(input.Body instanceof Uint8Array)
        return call(
          {
            operation: command.constructor.name.replace(/Command$/, ""),
            bucket: typeof input.Bucket === "string" ? input.Bucket : undefined,
            key: typeof input.Key === "string" ? input.Key : undefined
          },
          (signal) => client.send(command as never, { abortSignal: signal }) as Promise<Output>,
          { replayable: !streamed, bounded: input.Body === undefined }
        )
      }
    }
    return instrument(service)
  })

/** RFC 3986 escaping, as SigV4 canonicalizes query strings. */
const escape = (text: string): string =>
  encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
