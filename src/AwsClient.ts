/**
 * Any AWS SDK for JavaScript v3 client on the session, the way boto3's `session.client("dynamodb")`
 * builds one: `AwsClient.make(DynamoDBClient)` gives a client that signs every request with what
 * `AwsCredentials` serves at that moment, in the `AwsRegion`, sent where botocore would send it
 * for that service (`AWS_ENDPOINT_URL_<SERVICE>`, `AWS_ENDPOINT_URL`, the profile's `[services]`
 * section, its `endpoint_url`; none of them under `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS`), with
 * the session's FIPS and dual-stack flags, retry settings (`AWS_RETRY_MODE` / `retry_mode`,
 * `AWS_MAX_ATTEMPTS` / `max_attempts`) and CA bundle (`AWS_CA_BUNDLE` / `ca_bundle`). The client
 * is destroyed (its sockets closed) when the scope closes.
 *
 * ```ts
 * const dynamo = yield* AwsClient.make(DynamoDBClient)
 * const item = yield* dynamo.send(new GetItemCommand({ TableName: "t", Key: { id: { S: "1" } } }))
 * ```
 *
 * `send` is the call as an `Effect`: a span named after the service and the operation
 * (`DynamoDB.GetItem`), the session's attempts for what is worth another (throttling, 5xx,
 * timeouts, connection errors), one more try with fresh credentials after `ExpiredToken` /
 * `InvalidToken` (`AwsCredentials.invalidate` first), and the SDK's exception as an
 * `AwsServiceError`, which names the signing credentials when the service refused them.
 *
 * The package does not depend on any client but S3's: `make` takes the client class, so a
 * program brings the clients it uses. The SDK never reads `process.env` or `~/.aws` itself: every
 * setting above is read here, through `Config` and the session.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { dual } from "effect/Function"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import { AwsCredentials } from "./AwsCredentials.js"
import { AwsRegion } from "./AwsRegion.js"
import { AwsSession } from "./AwsSession.js"
import type { SigningCredentials } from "./Credentials.js"
import type { CredentialsError } from "./CredentialsError.js"
import * as CallFailure from "./internal/callFailure.js"
import * as Internal from "./internal/sdkClient.js"
import { scrub } from "./internal/scrub.js"
import * as SigningCredentialsTable from "./internal/signingCredentials.js"

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/**
 * What went wrong, as a program would branch on it. Service-specific codes
 * (`ResourceNotFoundException`, `ConditionalCheckFailedException`, `QueueDoesNotExist`) are
 * `ServiceError` with the code in `code`: the union stays closed whatever the client.
 *
 * - `CredentialsRejected`: the service refused the credentials (an unknown access key, a wrong
 *   secret, an expired or invalid session token after the one retry with fresh credentials, an
 *   incomplete signature); the message names the signing credentials' key, source and provenance.
 * - `AccessDenied`: the credentials are valid but not allowed to do this (named the same way).
 * - `Throttled`: the service asked us to slow down, after the attempts.
 * - `ServiceError`: any other answer of the service; `code` has its error code.
 * - `Timeout`: no answer within the configured time; `Unreachable`: the connection was refused,
 *   reset or closed, or the host not found.
 * - `InvalidResponse`: the answer could not be read.
 * - `InvalidConfiguration`: the settings do not work (an endpoint that is not an http(s) URL, an
 *   unknown retry mode, a missing CA bundle, settings the SDK will not combine); nothing was sent.
 *
 * Credentials that cannot be had are not an `AwsServiceError`: the call fails with the
 * `CredentialsError` of `AwsCredentials.get` itself.
 *
 * @since 0.1.0
 * @category errors
 */
export type Reason =
  | "CredentialsRejected"
  | "AccessDenied"
  | "Throttled"
  | "ServiceError"
  | "Timeout"
  | "Unreachable"
  | "InvalidResponse"
  | "InvalidConfiguration"

/**
 * A failed call (or a client that could not be built, operation `Configure`). Carries the
 * service (the SDK's `serviceId`), the operation, the service's code, the HTTP status and the
 * request id (what AWS support asks for), and whether another attempt could have cured it. Its
 * message never contains a secret key or a session token.
 *
 * @since 0.1.0
 * @category errors
 */
export class AwsServiceError extends Data.TaggedError("AwsServiceError")<{
  readonly reason: Reason
  /** The SDK's `serviceId`: `DynamoDB`, `SQS`, `S3`. */
  readonly service: string
  /** The operation, e.g. `PutItem`; `Configure` when the client could not be built. */
  readonly operation: string
  /** What happened, in words. */
  readonly detail: string
  /** The service's error code (`ResourceNotFoundException`, ...), or a transport code. */
  readonly code?: string | undefined
  readonly status?: number | undefined
  readonly requestId?: string | undefined
  /** Throttling, 5xx, timeouts and connection errors: retried up to the attempts before this. */
  readonly retryable: boolean
  /**
   * For `CredentialsRejected` and `AccessDenied`: the credentials the request was signed with,
   * without their secret, so that the message can say which key from where was refused.
   */
  readonly signedWith?: SigningCredentials | undefined
}> {
  /**
   * @since 0.1.0
   */
  override get message(): string {
    const facts: Array<string> = []
    if (this.status !== undefined) facts.push(`HTTP ${this.status}`)
    if (this.code !== undefined && this.code !== this.reason) facts.push(this.code)
    if (this.requestId !== undefined) facts.push(`request ${this.requestId}`)
    return `${this.service} ${this.operation}: ${this.reason}${facts.length === 0 ? "" : ` (${facts.join(", ")})`}: ${this.detail}`
  }
}

/**
 * @since 0.1.0
 * @category refinements
 */
export const isAwsServiceError = (u: unknown): u is AwsServiceError => u instanceof AwsServiceError

// ---------------------------------------------------------------------------------------------
// Models
// ---------------------------------------------------------------------------------------------

/**
 * What `make` needs of an SDK client: every v3 client (`DynamoDBClient`, `SQSClient`, ...) is one.
 *
 * @since 0.1.0
 * @category models
 */
export interface SdkClient {
  readonly config: object
  destroy(): void
}

/**
 * An SDK command (`new PutItemCommand({ ... })`), by its output type.
 *
 * @since 0.1.0
 * @category models
 */
export interface Command<Output> {
  readonly input: object
  resolveMiddleware(stack: any, configuration: any, options: any): (args: any) => Promise<{ readonly output: Output }>
}

/**
 * The options of `make`. The settings of the session (endpoint, attempts) apply unless one is
 * given here.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options<Config = {}> {
  /** Where requests go; overrides every configured endpoint. */
  readonly endpoint?: string | undefined
  /** The region; default: the `AwsRegion` service's. */
  readonly region?: string | undefined
  /**
   * Attempts per call, the first included (at most 10). Default: `AWS_MAX_ATTEMPTS` /
   * `max_attempts`, else the retry mode's default (botocore's: `legacy` 5, `standard` and
   * `adaptive` 3; the mode is `legacy` unless `AWS_RETRY_MODE` / `retry_mode` says otherwise).
   */
  readonly maxAttempts?: number | undefined
  /** How long one attempt may take to connect and get the response's headers. Default 30 seconds. */
  readonly timeout?: Duration.DurationInput | undefined
  /** How long the connection may stay silent. Default: `timeout`. */
  readonly idleTimeout?: Duration.DurationInput | undefined
  /**
   * More of the client's own configuration (service-specific settings). `region`, `endpoint`,
   * `credentials`, the retry settings, `requestHandler` and `logger` are set by `make` and
   * override what is given here: use the options above instead.
   */
  readonly config?: Partial<Config> | undefined
}

/**
 * A client built by `make`: the SDK client itself (`sdk`, for what `send` does not cover, e.g.
 * paginators or waiters), what it was built with, and `send`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Client<C> {
  readonly sdk: C
  /** The SDK's `serviceId`, e.g. `DynamoDB`. */
  readonly service: string
  readonly region: string
  /** The configured endpoint, if any (the SDK's own resolution applies otherwise). */
  readonly endpoint: Option.Option<string>
  /** Attempts per call, the first included. */
  readonly maxAttempts: number
  /** One call; see the module's comment. */
  readonly send: <Output>(command: Command<Output>) => Effect.Effect<Output, AwsServiceError | CredentialsError>
}

/**
 * The default of `Options.timeout`.
 *
 * @since 0.1.0
 * @category models
 */
export const defaultTimeout: Duration.Duration = Duration.seconds(30)

// ---------------------------------------------------------------------------------------------
// Errors from the SDK
// ---------------------------------------------------------------------------------------------

const deniedCodes: ReadonlySet<string> = new Set(["AccessDenied", "AccessDeniedException"])

/** Node's codes for a server certificate it would not trust: the CA bundle is what to check. */
const untrustedCodes: ReadonlySet<string> = new Set([
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "CERT_UNTRUSTED",
  "CERT_HAS_EXPIRED",
  "ERR_TLS_CERT_ALTNAME_INVALID"
])

interface CallContext {
  readonly service: string
  readonly operation: string
}

const record = (u: unknown): Record<string, unknown> =>
  typeof u === "object" && u !== null ? u as Record<string, unknown> : {}

/** The SDK's exception (or a transport error) as an `AwsServiceError`, with no body and no secret. */
const toServiceError = (
  limits: Internal.Limits,
  endpoint: Option.Option<string>,
  scrub: (text: string) => string
) =>
(context: CallContext, error: unknown): AwsServiceError => {
  const tlsCode = record(error).code
  if (typeof tlsCode === "string" && untrustedCodes.has(tlsCode)) {
    return new AwsServiceError({
      service: context.service,
      operation: context.operation,
      reason: "Unreachable",
      code: tlsCode,
      retryable: false,
      detail: `${Option.getOrElse(endpoint, () => context.service)} presented a TLS certificate that is not trusted ` +
        `(${tlsCode}); AWS_CA_BUNDLE or ca_bundle names the certificates to trust`
    })
  }
  const classified = CallFailure.classify(error)
  const raw = record(error).message
  const message = typeof raw === "string" ? scrub(raw) : ""
  const base = { service: context.service, operation: context.operation }
  switch (classified._tag) {
    case "Timeout":
      return new AwsServiceError({
        ...base,
        reason: "Timeout",
        code: "ETIMEDOUT",
        retryable: true,
        detail: `no answer within ${Duration.format(limits.timeout)}, or the connection was silent for ${
          Duration.format(limits.idleTimeout)
        }`
      })
    case "Network":
      return classified.code === "ETIMEDOUT"
        ? new AwsServiceError({
          ...base,
          reason: "Timeout",
          code: "ETIMEDOUT",
          retryable: true,
          detail: `no answer within ${Duration.format(limits.timeout)}`
        })
        : new AwsServiceError({
          ...base,
          reason: "Unreachable",
          code: classified.code,
          retryable: true,
          detail: `${Option.getOrElse(endpoint, () => context.service)} could not be reached or the connection failed: ${
            message === "" ? classified.code : message
          }`
        })
    case "Malformed": {
      // An answer the SDK could not parse, whose code we could read (an XML refusal of a JSON service).
      const code = Internal.answerCodeOf(error)
      if (code !== undefined) {
        const service = { _tag: "Service", name: code, status: classified.status, errorCode: undefined, requestId: undefined } as const
        return answered(context, service, "", SigningCredentialsTable.ofError(error), undefined)
      }
      return new AwsServiceError({
        ...base,
        reason: "InvalidResponse",
        code: classified.status === undefined ? undefined : `HTTP ${classified.status}`,
        status: classified.status,
        retryable: false,
        detail: "the answer could not be read"
      })
    }
    case "Local":
      return new AwsServiceError({
        ...base,
        reason: "InvalidConfiguration",
        code: classified.name,
        retryable: false,
        detail: `the request was not sent: ${classified.name}${classified.message === "" ? "" : `: ${classified.message}`}`
      })
    case "Service":
      return answered(context, classified, message, SigningCredentialsTable.ofError(error), record(error).$retryable)
  }
}

/** What the service answered, as a reason: refusals of the credentials named by the one table. */
const answered = (
  context: CallContext,
  classified: Extract<CallFailure.CallFailure, { readonly _tag: "Service" }>,
  message: string,
  signedWith: SigningCredentials | undefined,
  sdkRetryable: unknown
): AwsServiceError => {
  const { name, requestId, status } = classified
  const code = /^(HTTP )?\d+$/.test(name) || name === "UnknownError" || name === "Unknown" ? undefined : name
  const throttled = CallFailure.isThrottled(classified) || (code !== undefined && CallFailure.isThrottlingCode(code))
  const reason: Reason = code !== undefined && deniedCodes.has(code)
    ? "AccessDenied"
    : code !== undefined && SigningCredentialsTable.isRejection(code)
    ? "CredentialsRejected"
    : throttled
    ? "Throttled"
    : "ServiceError"
  const retryable = throttled || CallFailure.isTransient(classified) || (typeof sdkRetryable === "object" && sdkRetryable !== null)
  const sentence = code === undefined || signedWith === undefined
    ? Option.none()
    : SigningCredentialsTable.rejection(code, signedWith, { operation: `${context.service} ${context.operation}` })
  const said = message !== "" && message !== name && message !== "UnknownError"
    ? message
    : `the service answered HTTP ${status ?? "?"}${code === undefined ? " without details" : ` ${code}`}`
  return new AwsServiceError({
    service: context.service,
    operation: context.operation,
    reason,
    code: code ?? (status === undefined ? undefined : `HTTP ${status}`),
    status,
    requestId,
    retryable,
    detail: Option.getOrElse(sentence, () => said),
    ...(Option.isSome(sentence) ? { signedWith } : {})
  })
}

const isTokenError = (error: AwsServiceError | CredentialsError): error is AwsServiceError =>
  error._tag === "AwsServiceError" && error.code !== undefined && Internal.tokenCodes.has(error.code)

const isRetryable = (error: AwsServiceError | CredentialsError): boolean =>
  error._tag === "AwsServiceError" && error.retryable

/** `PutItemCommand` is `PutItem`. */
const operationOf = (command: object): string => {
  const name = (command as { constructor?: { name?: unknown } }).constructor?.name
  return typeof name === "string" && name !== "" ? name.replace(/Command$/, "") : "Request"
}

// ---------------------------------------------------------------------------------------------
// Constructors
// ---------------------------------------------------------------------------------------------

type ConfigOf<K> = K extends new(...args: infer P) => unknown ? NonNullable<P[0]> : never

const configure = (service: string, detail: string): AwsServiceError =>
  new AwsServiceError({ service, operation: "Configure", reason: "InvalidConfiguration", retryable: false, detail })

/** The client's `serviceId` (`DynamoDB`), read off a client built with nothing but our settings. */
const serviceIdOf = (Client: new(config: never) => SdkClient, probeConfig: Record<string, unknown>) =>
  Effect.try({
    try: () => {
      const probe = new Client(probeConfig as never)
      try {
        const id = (probe.config as { serviceId?: unknown }).serviceId
        if (typeof id !== "string" || id === "") throw new Error("the client has no serviceId")
        return id
      } finally {
        probe.destroy()
      }
    },
    catch: (error) =>
      configure(Client.name.replace(/Client$/, "") || "AWS", `the client could not be built: ${scrub(String(error), { max: 300 })}`)
  })

/**
 * Builds `Client` (an AWS SDK v3 client class) for the current scope, with the session's
 * settings for its service (see the module's comment); destroyed when the scope closes. Fails with
 * `InvalidConfiguration` when the settings do not work. The session is optional: without an
 * `AwsSession` only the environment configures the client.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <K extends new(config: never) => SdkClient>(
  Client: K,
  options: Options<ConfigOf<K>> = {}
): Effect.Effect<Client<InstanceType<K>>, AwsServiceError, AwsCredentials | AwsRegion | Scope.Scope> =>
  Effect.gen(function*() {
    const credentials = yield* AwsCredentials
    const region = options.region ?? (yield* AwsRegion).name
    const session = Option.getOrElse(yield* Effect.serviceOption(AwsSession), () => Internal.noSession)
    const signing = yield* Internal.sdkCredentials
    const timeout = options.timeout === undefined ? defaultTimeout : Duration.decode(options.timeout)
    const limits: Internal.Limits = {
      timeout,
      idleTimeout: options.idleTimeout === undefined ? timeout : Duration.decode(options.idleTimeout)
    }
    const service = yield* serviceIdOf(Client, {
      region,
      credentials: signing.credentials,
      maxAttempts: 1,
      ignoreConfiguredEndpointUrls: true,
      logger: Internal.silentLogger
    })
    const settings = yield* Internal.resolveSettings({
      session,
      service: Internal.serviceIdOf(service),
      endpoint: options.endpoint,
      maxAttempts: options.maxAttempts
    }).pipe(Effect.mapError((problem) => configure(service, problem.detail)))
    const sdk = yield* Effect.acquireRelease(
      Effect.try({
        try: () => {
          const created = new Client({ ...options.config, ...Internal.baseConfig(region, settings, signing.credentials, limits) } as never)
          Internal.recordSigningCredentials(created as unknown as Internal.SdkClientLike)
          Internal.recordAnswerCodes(created as unknown as Internal.SdkClientLike)
          return created as InstanceType<K>
        },
        catch: (error) => configure(service, `the client could not be built: ${signing.scrub(String(error))}`)
      }),
      (client) => Effect.sync(() => client.destroy())
    )
    const endpoint = Option.map(settings.endpoint, (e) => e.url)
    const mapError = toServiceError(limits, endpoint, signing.scrub)
    const retrying = Internal.makeRetrying<AwsServiceError>({
      attempts: settings.retry.maxAttempts,
      maxBackoff: Duration.seconds(20),
      isRetryable,
      isTokenError,
      timedOut: () => new AwsServiceError({ service, operation: "Request", reason: "Timeout", retryable: true, detail: "timed out" }),
      invalidate: credentials.invalidate,
      describe: (error) => `${error.service} ${error.operation}: ${error.code}`
    })
    const requestTimeout = Duration.toMillis(limits.timeout)
    const sender = sdk as unknown as { send(command: unknown, options: unknown): Promise<unknown> }
    const send = <Output>(command: Command<Output>): Effect.Effect<Output, AwsServiceError | CredentialsError> => {
      const context = { service, operation: operationOf(command) }
      return retrying(
        Internal.attempt(
          (abortSignal) => sender.send(command, { abortSignal, requestTimeout }) as Promise<Output>,
          (error) => mapError(context, error)
        ),
        true
      ).pipe(Effect.withSpan(`${service}.${context.operation}`, {
        kind: "client",
        attributes: { "rpc.system": "aws-api", "rpc.service": service, "rpc.method": context.operation, "cloud.region": region }
      }))
    }
    return { sdk, service, region, endpoint, maxAttempts: settings.retry.maxAttempts, send }
  })

/**
 * One call on a client built by `make`, as a function (`client.send(command)` is the same).
 *
 * @since 0.1.0
 * @category calls
 */
export const send: {
  <Output>(command: Command<Output>): <C>(client: Client<C>) => Effect.Effect<Output, AwsServiceError | CredentialsError>
  <C, Output>(client: Client<C>, command: Command<Output>): Effect.Effect<Output, AwsServiceError | CredentialsError>
} = dual(2, <C, Output>(client: Client<C>, command: Command<Output>) => client.send(command))

/**
 * A layer of a client as a service of the program's own: declare the tag once, and every part
 * of the program asks for it.
 *
 * ```ts
 * class Dynamo extends Context.Tag("app/Dynamo")<Dynamo, AwsClient.Client<DynamoDBClient>>() {}
 * const DynamoLive = AwsClient.layer(Dynamo, DynamoDBClient)
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = <I, K extends new(config: never) => SdkClient>(
  tag: Context.Tag<I, Client<InstanceType<K>>>,
  Client: K,
  options: Options<ConfigOf<K>> = {}
): Layer.Layer<I, AwsServiceError, AwsCredentials | AwsRegion> => Layer.scoped(tag, make(Client, options))

/**
 * Declares a tag for a client: `class Sqs extends AwsClient.Tag("app/Sqs")<Sqs, SQSClient>() {}`.
 *
 * @since 0.1.0
 * @category tags
 */
export const Tag = <const Id extends string>(id: Id) => <Self, C>(): Context.TagClass<Self, Id, Client<C>> =>
  Context.Tag(id)<Self, Client<C>>()
