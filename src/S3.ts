/**
 * Amazon S3 as an Effect service, on top of any credential layer: `S3.layer(options)` needs
 * `AwsCredentials` and `AwsRegion` and builds one `S3Client` for its scope; the client asks the
 * `AwsCredentials` service for credentials on every request, so refreshed credentials are used
 * without rebuilding it. `S3.layerMemory()` is the same service in memory, for tests.
 *
 * Every operation is an `Effect` (or a `Stream`) with a span (`S3.putObject`, ...) failing with
 * `S3Error | CredentialsError`: `S3Error`, whose closed `reason` says what happened, or, when
 * there are no credentials to sign with, `AwsCredentials.get`'s own `CredentialsError`. The
 * seed's boto3 idioms read:
 *
 * ```ts
 * // session.resource("s3").Object("my-bucket", "my-key").delete()
 * yield* S3.object("my-bucket", "my-key").delete()
 * // client.delete_object(Bucket="my-bucket", Key="my-key")
 * const s3 = yield* S3.S3
 * yield* s3.deleteObject("my-bucket", "my-key")
 * ```
 *
 * `@aws-sdk/client-s3` is loaded when `S3.layer` is built, not when this module is imported.
 *
 * @since 0.1.0
 */
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"
import type { AwsCredentials } from "./AwsCredentials.js"
import type { AwsRegion } from "./AwsRegion.js"
import * as S3Memory from "./internal/s3Memory.js"
import * as S3Sdk from "./internal/s3Sdk.js"
import type { CredentialsError } from "./CredentialsError.js"
import type { S3Error } from "./S3Error.js"
import type {
  CopyOptions,
  CopyResult,
  GetObjectResult,
  GetOptions,
  MemoryOptions,
  ObjectHead,
  ObjectRef,
  Options,
  PresignedUrl,
  PresignOptions,
  PutOptions,
  PutResult,
  ReadOptions,
  Service,
  UploadOptions,
  UploadResult
} from "./S3Model.js"

export * from "./S3Error.js"
export * from "./S3Model.js"

/**
 * @since 0.1.0
 * @category tags
 */
export class S3 extends Context.Tag("effect-aws-credentials/S3")<S3, Service>() {}

// ---------------------------------------------------------------------------------------------
// Layers
// ---------------------------------------------------------------------------------------------

/**
 * The S3 service on `@aws-sdk/client-s3`: one client for the layer's scope (destroyed when it
 * closes), credentials from `AwsCredentials` on every request, the region from `AwsRegion`.
 * When an `AwsSession` is in the context too (as `CredentialChain.layerNode()` provides), the
 * session's profile configures the endpoint (`endpoint_url`, `[services]`) and addressing style
 * (`s3 = addressing_style = path`); otherwise only the environment does. Nothing is read from
 * `process.env` or `~/.aws` by the SDK itself. The layer fails with `S3Error` (reason
 * `InvalidConfiguration`) for an unusable endpoint setting.
 *
 * ```ts
 * const S3Live = S3.layer().pipe(Layer.provide(Layer.merge(CredentialChain.layerNode(), RegionLive)))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options = {}): Layer.Layer<S3, S3Error, AwsCredentials | AwsRegion> =>
  Layer.scoped(
    S3,
    S3Sdk.make(options)
  )

/**
 * `layerConfig`'s options: each option of `layer` as a `Config` or a plain value.
 *
 * @since 0.1.0
 * @category models
 */
export type ConfigOptions = { readonly [K in keyof Options]?: Config.Config<Options[K]> | Options[K] }

/**
 * `layer` with its options read from `Config` (each option a `Config` value, or a plain one).
 *
 * ```ts
 * S3.layerConfig({ endpoint: Config.option(Config.string("S3_ENDPOINT")).pipe(Config.map(Option.getOrUndefined)), forcePathStyle: true })
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  options: ConfigOptions
): Layer.Layer<S3, S3Error | ConfigError.ConfigError, AwsCredentials | AwsRegion> => {
  const configs: Record<string, Config.Config<unknown>> = {}
  for (const [name, value] of Object.entries(options)) {
    configs[name] = Config.isConfig(value) ? value : Config.succeed(value)
  }
  // `Config.all` of an empty record fails inside effect; no options is simply `layer()`.
  if (Object.keys(configs).length === 0) return layer()
  return Layer.unwrapEffect(Effect.map(Config.all(configs), (resolved) => layer(resolved as Options)))
}

/**
 * An in-memory S3 for tests, with S3's semantics: the same errors (codes, statuses, reasons),
 * keys listed in UTF-8 binary order with pagination, delimiters and common prefixes, ranges,
 * conditional writes, multipart uploads (5 MiB minimum part, multipart entity tags) and their
 * abort. Each layer build starts empty. Presigned URLs (`https://memory.s3.invalid/...`) cannot
 * be fetched; their expiry is clamped to the credentials' when an `AwsCredentials` service is in
 * the context. `send` fails with code `NotImplemented`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerMemory = (options: MemoryOptions = {}): Layer.Layer<S3> =>
  Layer.effect(
    S3,
    S3Memory.make(options)
  )

// ---------------------------------------------------------------------------------------------
// Object handle
// ---------------------------------------------------------------------------------------------

/**
 * One object, boto3's `s3.Object(bucket, key)`: the operations of the service bound to a bucket
 * and key.
 *
 * @since 0.1.0
 * @category models
 */
export interface ObjectHandle extends ObjectRef {
  readonly get: (options?: GetOptions) => Effect.Effect<GetObjectResult, S3Error | CredentialsError, S3 | Scope.Scope>
  readonly text: (options?: ReadOptions) => Effect.Effect<string, S3Error | CredentialsError, S3>
  readonly bytes: (options?: ReadOptions) => Effect.Effect<Uint8Array, S3Error | CredentialsError, S3>
  readonly head: () => Effect.Effect<Option.Option<ObjectHead>, S3Error | CredentialsError, S3>
  readonly put: (
    body: Uint8Array | string,
    options?: PutOptions
  ) => Effect.Effect<PutResult, S3Error | CredentialsError, S3>
  readonly upload: <E = never, R = never>(
    body: Uint8Array | string | Stream.Stream<Uint8Array, E, R>,
    options?: UploadOptions
  ) => Effect.Effect<UploadResult, S3Error | CredentialsError | E, S3 | R>
  readonly delete: () => Effect.Effect<void, S3Error | CredentialsError, S3>
  readonly copyTo: (
    target: ObjectRef,
    options?: CopyOptions
  ) => Effect.Effect<CopyResult, S3Error | CredentialsError, S3>
  readonly presignGet: (options?: PresignOptions) => Effect.Effect<PresignedUrl, S3Error | CredentialsError, S3>
  readonly presignPut: (options?: PresignOptions) => Effect.Effect<PresignedUrl, S3Error | CredentialsError, S3>
}

/**
 * A handle on one object, built on the service's operations:
 * `S3.object("my-bucket", "my-key").delete()` is boto3's
 * `session.resource("s3").Object("my-bucket", "my-key").delete()`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const object = (bucket: string, key: string): ObjectHandle => {
  const use = <A, E, R>(f: (s3: Service) => Effect.Effect<A, E, R>): Effect.Effect<A, E, R | S3> =>
    Effect.flatMap(S3, f)
  return {
    bucket,
    key,
    get: (options) => use((s3) => s3.getObject(bucket, key, options)),
    text: (options) => use((s3) => s3.getObjectText(bucket, key, options)),
    bytes: (options) => use((s3) => s3.getObjectBytes(bucket, key, options)),
    head: () => use((s3) => s3.headObject(bucket, key)),
    put: (body, options) => use((s3) => s3.putObject(bucket, key, body, options)),
    upload: (body, options) => use((s3) => s3.upload(bucket, key, body, options)),
    delete: () => use((s3) => s3.deleteObject(bucket, key)),
    copyTo: (target, options) => use((s3) => s3.copyObject({ bucket, key }, target, options)),
    presignGet: (options) => use((s3) => s3.presignGetObject(bucket, key, options)),
    presignPut: (options) => use((s3) => s3.presignPutObject(bucket, key, options))
  }
}
