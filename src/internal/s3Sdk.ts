/**
 * `S3.layer`: the S3 service on `@aws-sdk/client-s3`. The SDK is loaded with a dynamic `import()`
 * when a layer is built, so importing the package does not load it (and a bundle of a program
 * that never builds `S3.layer` does not contain it).
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
import type { GetObjectCommand as GetObjectCommandType, PutObjectCommand as PutObjectCommandType } from "@aws-sdk/client-s3"
import * as NodeStream from "@effect/platform-node/NodeStream"
import * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as crypto from "node:crypto"
import { Readable } from "node:stream"
import { AwsCredentials, toAwsSdkProvider } from "../AwsCredentials.js"
import { AwsRegion } from "../AwsRegion.js"
import { AwsSession, type Service as Session } from "../AwsSession.js"
import * as Credentials from "../Credentials.js"
import { displayUrl, scrub as scrubText } from "./scrub.js"
import * as ProfileFile from "../ProfileFile.js"
import type * as S3 from "../S3Model.js"
import type { Reason, S3Error } from "../S3Error.js"
import { defaults } from "../S3Model.js"
import * as CallPolicy from "./callPolicy.js"
import * as ConfiguredEndpoint from "./configuredEndpoint.js"
import {
  batches,
  type CallContext,
  deleteBatchSize,
  failure,
  instrument,
  parseContentRange,
  presignedUrl,
  presignLifetime,
  rangeHeader,
  singleUseBody,
  tooLarge,
  uploadSettings
} from "./s3Common.js"
import * as Upload from "./s3Upload.js"

/** S3 as endpoint configuration names it (`AWS_ENDPOINT_URL_S3`, `s3 =` in `[services]`). */
const s3Service: ConfiguredEndpoint.ServiceId = { env: "S3", key: "s3" }

/** A body pull returns once this much has arrived (or the body ended). */
const batchBytes = 1024 * 1024

/** A body is paused when this much waits to be pulled (its memory bound for a slow reader). */
const pauseBytes = 4 * 1024 * 1024

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

const reasons: Record<string, Reason> = {
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
const isTransient = (error: S3Error): boolean =>
  error.reason === "Throttled" || error.reason === "Timeout" ||
  (error.status !== undefined && error.status >= 500 && error.code !== "NotImplemented") ||
  (error.status === undefined && error.code !== undefined && transportCodes.has(error.code))

const encodeKey = (key: string): string => key.split("/").map(encodeURIComponent).join("/")

const toDateTime = (date: Date | undefined): Option.Option<DateTime.Utc> =>
  date instanceof Date && !Number.isNaN(date.getTime()) ? Option.some(DateTime.unsafeMake(date)) : Option.none()

const epoch = DateTime.unsafeMake(0)

type Sdk = readonly [typeof import("@aws-sdk/client-s3"), typeof import("@smithy/signature-v4")]

const loadSdk: Effect.Effect<Sdk> = Effect.promise(() =>
  Promise.all([import("@aws-sdk/client-s3"), import("@smithy/signature-v4")])
)

/** Builds the SDK-backed service for the current scope. */
export const make = (
  options: S3.Options
): Effect.Effect<S3.Service, S3Error, AwsCredentials | AwsRegion | Scope.Scope> =>
  Effect.gen(function*() {
    const [{
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
    }, { SignatureV4 }] = yield* loadSdk
    const credentials = yield* AwsCredentials
    const region = (yield* AwsRegion).name
    const session = Option.getOrElse(yield* Effect.serviceOption(AwsSession), () => noSession)
    const compat = options.compat ?? "aws"
    const maxAttempts = Math.max(1, Math.floor(options.maxAttempts ?? defaults.maxAttempts))
    const timeout = options.timeout === undefined
      ? Duration.millis(defaults.timeoutMillis)
      : Duration.decode(options.timeout)
    const idleTimeout = options.idleTimeout === undefined ? timeout : Duration.decode(options.idleTimeout)
    const idleMs = Duration.toMillis(idleTimeout)
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
          detail: `the endpoint option is not an http(s) URL: "${displayUrl(options.endpoint)}"`
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
    const scrub = (text: string): string => scrubText(text, { max: 300, known: recentSecrets })

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
          // The SDK's own console messages (e.g. about a failed streaming request) would bypass
          // Effect's logging; every failure reaches the caller as an S3Error instead.
          logger: { trace: () => {}, debug: () => {}, info: () => {}, warn: () => {}, error: () => {} },
          requestHandler: {
            connectionTimeout: timeoutMs,
            throwOnRequestTimeout: true,
            socketTimeout: idleMs
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
    const toS3Error = (context: CallContext, error: unknown): S3Error => {
      const e = record(error)
      const metadata = record(e.$metadata)
      const status = typeof metadata.httpStatusCode === "number" ? metadata.httpStatusCode : undefined
      const requestId = typeof metadata.requestId === "string" ? metadata.requestId : undefined
      const name = typeof e.name === "string" ? e.name : "Error"
      const message = typeof e.message === "string" ? scrub(e.message) : ""
      if (name === "TimeoutError" || e.code === "ETIMEDOUT") {
        return failure(context, {
          reason: "Timeout",
          code: "ETIMEDOUT",
          detail: message.includes("inactivity")
            ? `the connection was silent for ${Duration.format(idleTimeout)}`
            : `no answer within ${Duration.format(timeout)}`
        })
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
        let reason: Reason = code === undefined ? "Other" : reasons[code] ?? "Other"
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

    // The one call policy: transient failures retried up to `maxAttempts`, capped jittered
    // waits. The attempt keeps its own timeout (the handler's `requestTimeout`, below), and a
    // streamed body may take as long as it takes, so neither a per-attempt nor a total limit here.
    const retryPolicy = CallPolicy.make({
      timeout: Duration.infinity,
      attempts: maxAttempts,
      backoff: Duration.millis(100),
      maxBackoff: Duration.seconds(2),
      deadline: Duration.infinity
    })
    const retrying = <A>(attempt: Effect.Effect<A, S3Error>): Effect.Effect<A, S3Error> =>
      retryPolicy.attempts <= 1 ? attempt : CallPolicy.run(attempt, retryPolicy, {
        isRetryable: isTransient,
        timedOut: () => failure({ operation: "Request" }, { reason: "Other", code: "Timeout", detail: "timed out" })
      })

    /**
     * One S3 call. The attempt's timeout is the SDK handler's `requestTimeout` (connection, the
     * request and the response's headers; `throwOnRequestTimeout` makes it an error), given per
     * request: `bounded` calls (no body to stream) get `timeout`, others none, their connection
     * being watched for silence (`socketTimeout`) instead. A timer the handler clears costs far
     * less than racing each request against `Effect.sleep` (a fiber per request). `replayable`
     * calls are retried and, after `ExpiredToken` / `InvalidToken`, made once more with fresh
     * credentials.
     */
    const call = <A>(
      context: CallContext,
      send: (options: { readonly abortSignal: AbortSignal; readonly requestTimeout: number }) => Promise<A>,
      policy: { readonly replayable: boolean; readonly bounded: boolean } = { replayable: true, bounded: true }
    ): Effect.Effect<A, S3Error> => {
      const requestTimeout = policy.bounded ? timeoutMs : 0
      const attempt = Effect.tryPromise({
        try: (abortSignal) => send({ abortSignal, requestTimeout }),
        catch: (error) => toS3Error(context, error)
      })
      const retried = policy.replayable ? retrying(attempt) : attempt
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

    const checkRange = (context: CallContext, range: S3.Range | undefined): Effect.Effect<void, S3Error> => {
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
    ): Effect.Effect<S3.PutResult, S3Error | E, R> => {
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
            (options) => client.send(new PutObjectCommand({ ...input, Body: body }), options),
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
        let bodyFailure: Option.Option<S3Error | E> = Option.none()
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
          (options) =>
            client.send(new PutObjectCommand({ ...input, Body: readable, ContentLength: length }), {
              ...options,
              abortSignal: AbortSignal.any([options.abortSignal, controller.signal])
            }),
          { replayable: false, bounded: false }
        ).pipe(
          Effect.catchAll((error): Effect.Effect<never, S3Error | E> =>
            Effect.fail(Option.getOrElse(bodyFailure, () => error))
          ),
          Effect.ensuring(Effect.sync(() => readable.destroy()))
        )
        return written(output)
      })
    }

    /** Sends GetObject; the body is released (its connection closed if unread) with the scope. */
    const fetchObject = (context: CallContext & { bucket: string; key: string }, getOptions: S3.GetOptions) =>
      Effect.gen(function*() {
        yield* checkRange(context, getOptions.range)
        const output = yield* call(context, (options) =>
          client.send(
            new GetObjectCommand({
              Bucket: context.bucket,
              Key: context.key,
              Range: getOptions.range === undefined ? undefined : rangeHeader(getOptions.range),
              IfMatch: getOptions.ifMatch
            }),
            options
          ))
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
          head: head(context, output, size),
          readable,
          released: () => released,
          contentLength,
          range
        }
      })

    /** A body's read failure as an `S3Error`: a silent connection is `Timeout`. */
    const bodyError = (context: CallContext, error: unknown): S3Error => {
      const mapped = toS3Error(context, error)
      return mapped.reason === "Timeout" ? mapped : failure(context, {
        reason: "Other",
        code: mapped.code,
        detail: `reading the body failed: ${mapped.detail}`
      })
    }

    /**
     * Reads a body: each pull returns the chunks that have arrived once they make 1 MiB (or the
     * body has ended), so a 16 MiB body costs 16 pulls rather than one per network read (a pull
     * costs tens of microseconds of stream machinery, which on a fast download is time the socket
     * is not read); past 4 MiB waiting to be pulled the body is paused (backpressure; pausing
     * sooner slowed fast downloads measurably). Node's `'readable'`-event reader and
     * `Stream.fromAsyncIterable` both cost a millisecond or more per small body. A body left
     * before its end is destroyed with the scope, which closes its connection. A connection
     * silent for `idleTimeout` is destroyed by the SDK's handler (`socketTimeout`), and the read
     * fails with reason `Timeout`: no timer of ours per body or per chunk.
     */
    const bodyReader = (
      context: CallContext,
      readable: Readable
    ): Effect.Effect<Effect.Effect<Option.Option<ReadonlyArray<Uint8Array>>, S3Error>, never, Scope.Scope> =>
      Effect.gen(function*() {
        let ended = false
        let failed: S3Error | undefined
        let queue: Array<Uint8Array> = []
        let queued = 0
        let wake: (() => void) | undefined
        readable.on("data", (chunk: Uint8Array) => {
          queue.push(chunk)
          queued += chunk.length
          if (queued >= pauseBytes) readable.pause()
          // A waiting pull is woken once a batch has gathered.
          if (queued >= batchBytes) wake?.()
        })
        readable.once("end", () => {
          ended = true
          wake?.()
        })
        readable.once("error", (error) => {
          failed = bodyError(context, error)
          wake?.()
        })
        yield* Scope.addFinalizer(yield* Effect.scope, Effect.sync(() => ended || readable.destroy()))
        const pull: Effect.Effect<Option.Option<ReadonlyArray<Uint8Array>>, S3Error> = Effect.suspend(() => {
          // A pull takes a whole batch, or what is left at the end: taking whatever has arrived
          // would take a network read or two per pull whenever the reader keeps up.
          if (queue.length > 0 && (queued >= batchBytes || ended || failed !== undefined)) {
            const out = queue
            queue = []
            queued = 0
            if (readable.isPaused()) readable.resume()
            return Effect.succeed(Option.some(out))
          }
          if (failed !== undefined) return Effect.fail(failed)
          if (ended) return Effect.succeed(Option.none())
          return Effect.async<Option.Option<ReadonlyArray<Uint8Array>>, S3Error>((resume) => {
            wake = () => {
              wake = undefined
              resume(pull)
            }
            return Effect.sync(() => {
              wake = undefined
            })
          })
        })
        return pull
      })

    const getObject = (
      bucket: string,
      key: string,
      getOptions: S3.GetOptions = {}
    ): Effect.Effect<S3.GetObjectResult, S3Error, Scope.Scope> =>
      Effect.map(fetchObject({ operation: "GetObject", bucket, key }, getOptions), (fetched) => ({
        ...fetched.head,
        body: singleUseBody(
          { operation: "GetObject", bucket, key },
          Stream.unwrapScoped(
            Effect.map(
              bodyReader({ operation: "GetObject", bucket, key }, fetched.readable),
              (pull) =>
                Stream.repeatEffectChunkOption(
                  Effect.flatMap(Effect.mapError(pull, Option.some), Option.match({
                    onNone: () => Effect.fail(Option.none()),
                    onSome: (chunks) => Effect.succeed(Chunk.unsafeFromArray(chunks))
                  }))
                )
            )
          ),
          fetched.released
        ),
        contentLength: fetched.contentLength,
        range: fetched.range
      }))

    /**
     * `getObjectText` / `getObjectBytes`: one promise sends GetObject and collects the body (a
     * scope and a `Stream` per body cost more than the rest of a small GET's client-side work),
     * inside one `call`: a body that breaks off is retried like a request that did, and an
     * interruption aborts both. Over `maxBytes` (announced, or counted while reading) the body is
     * dropped and the read fails with `MaxBytesExceeded`.
     */
    const read = (bucket: string, key: string, readOptions: S3.ReadOptions = {}) => {
      const context = { operation: "GetObject", bucket, key }
      const maxBytes = readOptions.maxBytes ?? settings.maxBytes
      const request = call(context, (options) =>
        client.send(
          new GetObjectCommand({
            Bucket: bucket,
            Key: key,
            Range: readOptions.range === undefined ? undefined : rangeHeader(readOptions.range),
            IfMatch: readOptions.ifMatch
          }),
          options
        ).then((output) => {
          const body = output.Body as unknown
          if (!(body instanceof Readable)) return new Uint8Array(0)
          if ((output.ContentLength ?? 0) > maxBytes) {
            body.destroy()
            return output.ContentLength ?? 0
          }
          return collectBody(body, maxBytes, options.abortSignal)
        }))
      const checked = readOptions.range === undefined ? request : Effect.zipRight(checkRange(context, readOptions.range), request)
      return Effect.flatMap(checked, (collected) =>
        typeof collected === "number" ? tooLarge(context, collected, maxBytes) : Effect.succeed(collected))
    }

    const listPages = (bucket: string, listOptions: S3.ListOptions = {}): Stream.Stream<S3.ListPage, S3Error> =>
      Stream.paginateEffect(
        undefined as string | undefined,
        (token) =>
          Effect.map(
            call({ operation: "ListObjectsV2", bucket }, (options) =>
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
                options
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
              (options) =>
                client.send(
                  new PutObjectCommand({
                    ...base,
                    Body: bytes,
                    ContentType: uploadOptions.contentType,
                    Metadata: uploadOptions.metadata === undefined ? undefined : { ...uploadOptions.metadata }
                  }),
                  options
                ),
              { replayable: true, bounded: false }
            ),
            written
          ),
        create: Effect.flatMap(
          call({ operation: "CreateMultipartUpload", bucket, key }, (options) =>
            client.send(
              new CreateMultipartUploadCommand({
                ...base,
                ContentType: uploadOptions.contentType,
                Metadata: uploadOptions.metadata === undefined ? undefined : { ...uploadOptions.metadata }
              }),
              options
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
              (options) =>
                client.send(
                  new UploadPartCommand({ ...base, UploadId: uploadId, PartNumber: partNumber, Body: bytes }),
                  options
                ),
              { replayable: true, bounded: false }
            ).pipe(
              Effect.withSpan("S3.uploadPart", {
                kind: "client",
                attributes: { "aws.s3.bucket": bucket, "aws.s3.key": key, "aws.s3.part_number": partNumber },
                captureStackTrace: false
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
            call({ operation: "CompleteMultipartUpload", bucket, key }, (options) =>
              client.send(
                new CompleteMultipartUploadCommand({
                  ...base,
                  UploadId: uploadId,
                  MultipartUpload: {
                    Parts: parts.map((part) => ({ PartNumber: part.partNumber, ETag: part.etag, ...part.checksums }))
                  }
                }),
                options
              )),
            written
          ),
        abort: (uploadId) =>
          Effect.asVoid(
            call({ operation: "AbortMultipartUpload", bucket, key }, (options) =>
              client.send(new AbortMultipartUploadCommand({ ...base, UploadId: uploadId }), options))
          )
      }
    }

    /** The request the SDK would send for `command`, stopped before it is signed. */
    const unsignedRequest = (
      context: CallContext,
      command: GetObjectCommandType | PutObjectCommandType
    ): Effect.Effect<{
      readonly protocol: string
      readonly hostname: string
      readonly port: number | undefined
      readonly path: string
      readonly query: Record<string, string | Array<string> | null>
      readonly signingRegion: string
    }, S3Error> =>
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
        catch: (error) => toS3Error(context, error)
      })

    const presign = (method: "GET" | "PUT") =>
    (
      bucket: string,
      key: string,
      presignOptions: S3.PresignOptions = {}
    ): Effect.Effect<S3.PresignedUrl, S3Error> =>
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
        return presignedUrl(`${request.protocol}//${host}${request.path}${search === "" ? "" : `?${search}`}`, method, lifetime)
      })

    const service: S3.Service = {
      listBuckets: Effect.gen(function*() {
        const out: Array<S3.BucketInfo> = []
        let token: string | undefined
        do {
          const output = yield* call({ operation: "ListBuckets" }, (options) =>
            client.send(new ListBucketsCommand({ ContinuationToken: token }), options))
          for (const bucket of output.Buckets ?? []) {
            if (bucket.Name !== undefined) out.push({ name: bucket.Name, creationDate: toDateTime(bucket.CreationDate) })
          }
          token = output.ContinuationToken
        } while (token !== undefined && token !== "")
        return out
      }),
      createBucket: (bucket, createOptions) => {
        const where = createOptions?.region ?? region
        return Effect.asVoid(call({ operation: "CreateBucket", bucket }, (options) =>
          client.send(
            new CreateBucketCommand({
              Bucket: bucket,
              ...(where === "us-east-1" ? {} : { CreateBucketConfiguration: { LocationConstraint: where as never } })
            }),
            options
          )))
      },
      headBucket: (bucket) =>
        Effect.map(
          call({ operation: "HeadBucket", bucket }, (options) =>
            client.send(new HeadBucketCommand({ Bucket: bucket }), options)),
          (output) => ({ bucket, region: Option.fromNullable(output.BucketRegion) })
        ),
      deleteBucket: (bucket) =>
        Effect.asVoid(call({ operation: "DeleteBucket", bucket }, (options) =>
          client.send(new DeleteBucketCommand({ Bucket: bucket }), options))),
      putObject: putObject as S3.PutObject,
      getObject,
      getObjectText: (bucket, key, readOptions) =>
        Effect.map(read(bucket, key, readOptions), (bytes) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString("utf8")),
      getObjectBytes: read,
      headObject: (bucket, key) => {
        const context = { operation: "HeadObject", bucket, key }
        return call(context, (options) => client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }), options)).pipe(
          Effect.map((output) => Option.some(head(context, output, output.ContentLength ?? 0))),
          Effect.catchIf(
            (error) => error.reason === "NoSuchKey" || error.reason === "NoSuchBucket",
            () => Effect.succeedNone
          )
        )
      },
      deleteObject: (bucket, key) =>
        Effect.asVoid(call({ operation: "DeleteObject", bucket, key }, (options) =>
          client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }), options))),
      deleteObjects: (bucket, keys) =>
        Effect.gen(function*() {
          let deleted = 0
          const errors: Array<S3.DeleteFailure> = []
          for (const batch of batches(keys, deleteBatchSize)) {
            const output = yield* call({ operation: "DeleteObjects", bucket }, (options) =>
              client.send(
                new DeleteObjectsCommand({
                  Bucket: bucket,
                  Delete: { Objects: batch.map((key) => ({ Key: key })), Quiet: true }
                }),
                options
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
          call({ operation: "CopyObject", bucket: target.bucket, key: target.key }, (options) =>
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
              options
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
            const output = yield* call({ operation: "ListMultipartUploads", bucket }, (options) =>
              client.send(
                new ListMultipartUploadsCommand({
                  Bucket: bucket,
                  Prefix: listOptions?.prefix,
                  KeyMarker: keyMarker,
                  UploadIdMarker: uploadIdMarker
                }),
                options
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
        Effect.asVoid(call({ operation: "AbortMultipartUpload", bucket, key }, (options) =>
          client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId }), options))),
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
          (options) => client.send(command as never, options) as Promise<Output>,
          { replayable: !streamed, bounded: input.Body === undefined }
        )
      }
    }
    return instrument(service)
  })

/** RFC 3986 escaping, as SigV4 canonicalizes query strings. */
const escape = (text: string): string =>
  encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)

/**
 * Reads a whole body into memory; resolves with the bytes, or with the size reached once it
 * passed `maxBytes` (the body is then destroyed). Aborting the signal destroys the body.
 */
const collectBody = (readable: Readable, maxBytes: number, signal: AbortSignal): Promise<Uint8Array | number> =>
  new Promise((resolve, reject) => {
    const chunks: Array<Buffer> = []
    let size = 0
    const onAbort = () => readable.destroy()
    signal.addEventListener("abort", onAbort, { once: true })
    const done = () => signal.removeEventListener("abort", onAbort)
    readable.on("data", (chunk: Buffer) => {
      size += chunk.length
      if (size > maxBytes) {
        done()
        readable.destroy()
        resolve(size)
      } else {
        chunks.push(chunk)
      }
    })
    readable.once("end", () => {
      done()
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size))
    })
    readable.once("error", (error) => {
      done()
      reject(error)
    })
  })
