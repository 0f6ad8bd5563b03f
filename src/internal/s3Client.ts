/**
 * `S3.layer`'s client: one `@aws-sdk/client-s3` client per layer scope, destroyed when it closes,
 * and the one way every request is made on it (`call`). The SDK is loaded with a dynamic
 * `import()` when a layer is built, so importing the package does not load it (and a bundle of a
 * program that never builds `S3.layer` does not contain it).
 *
 * The client's `credentials` is a provider function marked `memoized`, so that the SDK calls it
 * for every request instead of caching credentials itself: every request (every part of an
 * upload) signs with what `AwsCredentials.get` serves at that moment, and the client is never
 * rebuilt for a refresh.
 *
 * Everything the SDK would read from `process.env` or `~/.aws` (region, endpoint, retry mode,
 * checksum settings, FIPS and dual-stack, app id, ...) is given explicitly: the region from
 * `AwsRegion`, the endpoint from the options or from `Config` and the session's profile
 * (`configuredEndpoint.ts`, botocore's order), the rest from the options. The SDK makes one
 * attempt per call; timeouts, retries (the one call policy: jittered capped backoff for
 * throttling, 5xx, timeouts and connection errors) and the one retry after `ExpiredToken` /
 * `InvalidToken` (with `AwsCredentials.invalidate` first) are done here, in Effect. What every
 * client we build shares (those settings, the CA bundle, the credentials provider, the call path
 * and its token retry) is `sdkClient.ts`'s, as `AwsClient` has it; S3's reasons and addressing are
 * this module's.
 */
import type { S3Client } from "@aws-sdk/client-s3"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as crypto from "node:crypto"
import { AwsCredentials } from "../AwsCredentials.js"
import { AwsRegion } from "../AwsRegion.js"
import { AwsSession, type Service as Session } from "../AwsSession.js"
import { CredentialsError } from "../CredentialsError.js"
import * as ProfileFile from "../ProfileFile.js"
import type { Reason, S3Error } from "../S3Error.js"
import { defaults, type Options } from "../S3Model.js"
import * as CallFailure from "./callFailure.js"
import type * as ConfiguredEndpoint from "./configuredEndpoint.js"
import { type CallContext, failure } from "./s3Common.js"
import * as SdkClient from "./sdkClient.js"
import * as SigningCredentials from "./signingCredentials.js"
import { scrub as scrubText } from "./scrub.js"

export type Sdk = typeof import("@aws-sdk/client-s3") & typeof import("@aws-sdk/s3-request-presigner")

const loadSdk: Effect.Effect<Sdk> = Effect.promise(() =>
  Promise.all([import("@aws-sdk/client-s3"), import("@aws-sdk/s3-request-presigner")]).then(([s3, presigner]) => ({
    ...s3,
    ...presigner
  }))
)

/** The client and what every request on it needs. */
export interface Client {
  readonly sdk: Sdk
  readonly client: S3Client
  readonly region: string
  readonly credentials: AwsCredentials["Type"]
  /** Scrubs server text of the secrets handed to the SDK lately (and of anything secret-like). */
  readonly scrub: (text: string) => string
  readonly toS3Error: (context: CallContext, error: unknown, during?: "request" | "body") => S3Error
  /** Fails with the `CredentialsError` of `AwsCredentials.get` itself when there are no credentials. */
  readonly call: <A>(
    context: CallContext,
    send: (options: { readonly abortSignal: AbortSignal; readonly requestTimeout: number }) => Promise<A>,
    policy?: CallShape
  ) => Effect.Effect<A, S3Error | CredentialsError>
}

/**
 * `replayable`: the request may be sent again (retries, and once more after a token error);
 * `bounded`: no body streams, so the whole exchange has `timeout` (else only silence is timed).
 */
export interface CallShape {
  readonly replayable: boolean
  readonly bounded: boolean
}

/** S3 as endpoint configuration names it (`AWS_ENDPOINT_URL_S3`, `s3 =` in `[services]`). */
const s3Service: ConfiguredEndpoint.ServiceId = { env: "S3", key: "s3" }

const reasons: Record<string, Reason> = {
  NoSuchKey: "NoSuchKey",
  NoSuchBucket: "NoSuchBucket",
  AccessDenied: "AccessDenied",
  AllAccessDisabled: "AccessDenied",
  InvalidAccessKeyId: "InvalidAccessKeyId",
  SignatureDoesNotMatch: "SignatureDoesNotMatch",
  ExpiredToken: "ExpiredToken",
  TokenRefreshRequired: "TokenRefreshRequired",
  InvalidToken: "InvalidToken",
  PreconditionFailed: "PreconditionFailed",
  BucketAlreadyOwnedByYou: "BucketAlreadyOwnedByYou",
  BucketNotEmpty: "BucketNotEmpty",
  InvalidRange: "InvalidRange",
  EntityTooSmall: "EntityTooSmall",
  NotImplemented: "NotImplemented",
  InvalidArgument: "InvalidArgument",
  RequestTimeout: "Timeout"
}

/**
 * Worth another attempt: throttling, timeouts, 5xx (but 501), connection trouble. Credentials
 * that could not be had are not: `AwsCredentials` has retried what it could.
 */
const isTransient = (error: S3Error | CredentialsError): boolean =>
  error._tag === "S3Error" && (
    error.reason === "Throttled" || error.reason === "Timeout" ||
    (error.status !== undefined && error.status >= 500 && error.reason !== "NotImplemented") ||
    (error.status === undefined && error.code !== undefined && CallFailure.isNetworkCode(error.code))
  )

/** A token error: the credentials are invalidated and the request made once more. */
const isTokenError = (error: S3Error | CredentialsError): error is S3Error =>
  error._tag === "S3Error" && isTokenAnswer(error)

const isTokenAnswer = (error: S3Error): boolean =>
  (error.code !== undefined && SdkClient.tokenCodes.has(error.code)) ||
  // A HEAD answer has no body, so no error code: S3 answers an expired or invalid token with
  // 400, which a HEAD gets for little else.
  (error.status === 400 && (error.code === "HTTP 400" || error.code === "BadRequest"))

const record = (u: unknown): Record<string, unknown> =>
  typeof u === "object" && u !== null ? u as Record<string, unknown> : {}

const invalidConfiguration = (detail: string): S3Error =>
  failure({ operation: "Configure" }, { reason: "InvalidConfiguration", code: "InvalidConfiguration", detail })

/**
 * Where requests go, how buckets are addressed and the rest of the client's settings: the
 * options, else the session's (`sdkClient.ts`, as every client we build has them).
 */
const addressing = (options: Options, session: Session) =>
  Effect.gen(function*() {
    const settings = yield* SdkClient.resolveSettings({
      session,
      service: s3Service,
      endpoint: options.endpoint,
      maxAttempts: options.maxAttempts
    })
      .pipe(Effect.mapError((problem) => invalidConfiguration(problem.detail)))
    // botocore's `s3 = \n  addressing_style = path` in the profile.
    const addressingStyle = Option.flatMap(session.profile, (profile) => ProfileFile.property(profile, "s3")).pipe(
      Option.flatMap((p) => Option.fromNullable(ProfileFile.subProperties(p.value).get("addressing_style")))
    )
    const forcePathStyle = options.forcePathStyle ??
      (options.compat === "s3-compatible" || Option.getOrUndefined(addressingStyle) === "path")
    return { settings, endpoint: Option.map(settings.endpoint, (e) => e.url), forcePathStyle }
  })

/** Servers that predate the SDK's CRC32 default need Content-MD5 where S3 needs a checksum. */
const addContentMd5 = (client: S3Client): void =>
  client.middlewareStack.add(
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

/**
 * The SDK's exception (or a transport error) as an `S3Error`, keeping no body and no secret:
 * classified by `callFailure.classify`, as every SDK call is, then named in S3's terms. `during`
 * says whether the request or the reading of a body failed: the handler's timeouts are told
 * apart by where they happen and by its `ETIMEDOUT` code (the request timeout), never by their
 * text.
 */
const toS3Error = (
  limits: { readonly timeout: Duration.Duration; readonly idleTimeout: Duration.Duration },
  endpoint: Option.Option<string>,
  scrub: (text: string) => string
) =>
(context: CallContext, error: unknown, during: "request" | "body" = "request"): S3Error => {
  const classified = CallFailure.classify(error)
  const message = typeof record(error).message === "string" ? scrub(record(error).message as string) : ""
  const idle = `the connection was silent for ${Duration.format(limits.idleTimeout)}`
  const timedOut = (detail: string) => failure(context, { reason: "Timeout", code: "ETIMEDOUT", detail })
  switch (classified._tag) {
    case "Timeout":
      return timedOut(
        during === "body" ? idle : `no connection within ${Duration.format(limits.timeout)}, or ${idle}`
      )
    case "Network":
      if (classified.code === "ETIMEDOUT") {
        return timedOut(during === "body" ? idle : `no answer within ${Duration.format(limits.timeout)}`)
      }
      return failure(context, {
        reason: "Unreachable",
        code: classified.code,
        detail: `${Option.getOrElse(endpoint, () => "S3")} could not be reached or the connection failed: ${
          message === "" ? classified.code : message
        }`
      })
    case "Service":
      return serviceError(context, {
        ...classified,
        throttled: CallFailure.isThrottled(classified),
        message,
        signedWith: SigningCredentials.ofError(error)
      })
    case "Malformed":
      return serviceError(context, {
        name: `HTTP ${classified.status ?? "?"}`,
        status: classified.status,
        requestId: undefined,
        throttled: false,
        message: "",
        signedWith: SigningCredentials.ofError(error)
      })
    case "Local":
      // The SDK would not make the request from these settings (an endpoint that does not
      // resolve, a value a header cannot carry): nothing was sent.
      return failure(context, {
        reason: "InvalidConfiguration",
        code: classified.name,
        detail: `the request was not sent: ${classified.name}${classified.message === "" ? "" : `: ${classified.message}`}`
      })
  }
}

/** What the server answered, as a reason: by its code, or (a HEAD has no body) by its status. */
const serviceError = (
  context: CallContext,
  answer: {
    readonly name: string
    readonly status: number | undefined
    readonly requestId: string | undefined
    readonly throttled: boolean
    readonly message: string
    /** The credentials the request was signed with, when the client recorded them. */
    readonly signedWith: SigningCredentials.SigningCredentials | undefined
  }
): S3Error => {
  const { message, name, requestId, signedWith, status } = answer
  const code = /^(HTTP )?\d+$/.test(name) || name === "UnknownError" || name === "Unknown"
    ? undefined
    : name === "NotFound"
    ? (context.key === undefined ? "NoSuchBucket" : "NoSuchKey")
    : name === "Forbidden"
    ? "AccessDenied"
    : name
  let reason: Reason | undefined = code === undefined ? undefined : reasons[code]
  if (code === undefined) {
    if (status === 404) reason = context.key === undefined ? "NoSuchBucket" : "NoSuchKey"
    else if (status === 403) reason = "AccessDenied"
    else if (status === 412) reason = "PreconditionFailed"
    else if (status === 416) reason = "InvalidRange"
    else if (status === 501) reason = "NotImplemented"
  }
  if (reason === undefined && (answer.throttled || (code !== undefined && CallFailure.isThrottlingCode(code)) || status === 503)) {
    reason = "Throttled"
  }
  const said = message !== "" && message !== name && message !== "UnknownError"
    ? message
    : `the server answered HTTP ${status ?? "?"}${code === undefined ? " without details" : ` ${code}`}`
  const resolved = reason ?? "ServiceError"
  // An answer that refuses the credentials says which ones, from where, and what to check.
  const sentence = signedWith === undefined ? Option.none() : SigningCredentials.rejection(resolved, signedWith, {
    operation: context.operation,
    resource: context.bucket === undefined
      ? undefined
      : context.key === undefined
      ? `s3://${context.bucket}`
      : `s3://${context.bucket}/${context.key}`
  })
  return failure(context, {
    reason: resolved,
    code: code ?? (status === undefined ? undefined : `HTTP ${status}`),
    status,
    requestId,
    detail: Option.getOrElse(sentence, () => said),
    ...(Option.isSome(sentence) ? { signedWith } : {})
  })
}

/** The limits of the layer's options. */
const limitsOf = (options: Options, retry: SdkClient.RetrySettings) => {
  const timeout = options.timeout === undefined ? Duration.millis(defaults.timeoutMillis) : Duration.decode(options.timeout)
  return {
    timeout,
    idleTimeout: options.idleTimeout === undefined ? timeout : Duration.decode(options.idleTimeout),
    // The option, else the session's (`AWS_MAX_ATTEMPTS`, `max_attempts`, `retry_mode`) as for
    // every client on it, else S3's own default.
    maxAttempts: retry.defaulted ? defaults.maxAttempts : retry.maxAttempts
  }
}

/**
 * One S3 call. The attempt's timeout is the SDK handler's `requestTimeout` (connection, the
 * request and the response's headers; `throwOnRequestTimeout` makes it an error), given per
 * request: `bounded` calls get `timeout`, others none, their connection being watched for silence
 * (`socketTimeout`) instead. A timer the handler clears costs far less than racing each request
 * against `Effect.sleep` (a fiber per request). `replayable` calls are retried by the call policy
 * (which therefore sets neither a per-attempt nor a total limit: a streamed body may take as long
 * as it takes) and, after `ExpiredToken` / `InvalidToken`, made once more with fresh credentials.
 */
const makeCall = (
  limits: ReturnType<typeof limitsOf>,
  credentials: AwsCredentials["Type"],
  mapError: (context: CallContext, error: unknown) => S3Error
): Client["call"] => {
  const retrying = SdkClient.makeRetrying<S3Error>({
    attempts: limits.maxAttempts,
    isRetryable: isTransient,
    isTokenError,
    timedOut: () => failure({ operation: "Request" }, { reason: "Timeout", code: "Timeout", detail: "timed out" }),
    invalidate: credentials.invalidate,
    describe: (error) => `S3 ${error.operation}: ${error.code}`
  })
  const timeoutMs = Duration.toMillis(limits.timeout)
  return (context, send, policy = { replayable: true, bounded: true }) => {
    const requestTimeout = policy.bounded ? timeoutMs : 0
    return retrying(
      SdkClient.attempt((abortSignal) => send({ abortSignal, requestTimeout }), (error) => mapError(context, error)),
      policy.replayable
    )
  }
}

/** Builds the client for the current scope. */
export const make = (options: Options): Effect.Effect<Client, S3Error, AwsCredentials | AwsRegion | Scope.Scope> =>
  Effect.gen(function*() {
    const sdk = yield* loadSdk
    const credentials = yield* AwsCredentials
    const region = (yield* AwsRegion).name
    const session = Option.getOrElse(yield* Effect.serviceOption(AwsSession), () => SdkClient.noSession)
    const compat = options.compat ?? "aws"
    const { endpoint, forcePathStyle, settings } = yield* addressing(options, session)
    const limits = limitsOf(options, settings.retry)
    const signing = yield* SdkClient.sdkCredentials
    const checksums = compat === "s3-compatible" ? "WHEN_REQUIRED" : "WHEN_SUPPORTED"
    const client = yield* Effect.acquireRelease(
      // A constructor that throws (a setting the SDK refuses) is a configuration error, not a defect.
      Effect.try({
        try: () => {
          const created = new sdk.S3Client({
            ...SdkClient.baseConfig(region, settings, signing.credentials, limits),
            forcePathStyle,
            requestChecksumCalculation: checksums,
            responseChecksumValidation: checksums,
            useArnRegion: false,
            disableS3ExpressSessionAuth: false
          })
          SdkClient.recordSigningCredentials(created as unknown as SdkClient.SdkClientLike)
          // Swift, older Ceph and MinIO require Content-MD5 on DeleteObjects.
          if (compat === "s3-compatible") addContentMd5(created)
          return created
        },
        catch: (error) =>
          invalidConfiguration(`the S3 client could not be built: ${
            scrubText(error instanceof Error ? error.message : String(error), { max: 300 })
          }`)
      }),
      (c) => Effect.sync(() => c.destroy())
    )
    const mapError = toS3Error(limits, endpoint, signing.scrub)
    return {
      sdk,
      client,
      region,
      credentials,
      scrub: signing.scrub,
      toS3Error: mapError,
      call: makeCall(limits, credentials, mapError)
    }
  })
