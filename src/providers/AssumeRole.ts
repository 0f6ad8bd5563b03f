/**
 * Credentials of a role assumed through STS (botocore's `assume-role`), for a profile with
 * `role_arn` and either `source_profile` or `credential_source`:
 *
 * ```ini
 * [profile dev]
 * role_arn = arn:aws:iam::111111111111:role/Dev
 * source_profile = base           ; or: credential_source = Environment | Ec2InstanceMetadata | EcsContainer
 * role_session_name = me          ; default botocore-session-<unix time>
 * external_id = ...               ; optional
 * duration_seconds = 3600         ; optional (STS's default is one hour)
 * mfa_serial = arn:aws:iam::111111111111:mfa/me   ; asks the MfaTokenProvider service
 * ```
 *
 * The source profile may itself assume a role, to any depth; the chain starts from static keys,
 * `credential_process`, web identity, IAM Identity Center, an `aws login` session or a
 * `credential_source` (see `internal/profileChain.ts` for the rules). A profile with
 * `web_identity_token_file` is left to `assume-role-with-web-identity`. Every STS call uses the
 * active profile's region and endpoint settings, as botocore does (`internal/sts.ts`): without a
 * region, the global endpoint signed for us-east-1; the instance metadata service is never asked
 * for the region.
 *
 * The credentials expire with the outermost role's; refreshing runs the whole chain again (the
 * root included: a `credential_process` runs again, instance metadata is asked again).
 * Provenance shows the path and where the STS calls went, e.g. `profile dev -> assume-role
 * arn:aws:iam::1:role/A -> profile base (shared-credentials-file /home/me/.aws/credentials:2), via
 * STS eu-west-1 (regional endpoint, region from AWS_REGION)` (or `from the AWS CLI cache ...`
 * when the outermost role's credentials were read from there).
 *
 * Roles can also be assumed in code, on top of whatever `AwsCredentials` a program has, with
 * `layerFromArn` (boto3's `sts.assume_role`, the JS SDK's `fromTemporaryCredentials`); provided
 * at different places, two parts of one program work in two accounts:
 *
 * ```ts
 * const Audit = AssumeRole.layerFromArn({ roleArn: "arn:aws:iam::111111111111:role/Audit" })
 * const Backup = AssumeRole.layerFromArn({ roleArn: "arn:aws:iam::222222222222:role/Backup" })
 *
 * Effect.all([audit.pipe(Effect.provide(Audit)), backup.pipe(Effect.provide(Backup))]).pipe(
 *   Effect.provide(CredentialChain.layerNode()) // the parent credentials, and the session for STS
 * )
 * ```
 *
 * @since 0.1.0
 */
import type * as CommandExecutor from "@effect/platform/CommandExecutor"
import type * as FileSystem from "@effect/platform/FileSystem"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Redacted from "effect/Redacted"
import type { AwsCredentials } from "../AwsCredentials.js"
import type { AwsSession } from "../AwsSession.js"
import type * as Credentials from "../Credentials.js"
import { CredentialsError, type CredentialsUnavailable } from "../CredentialsError.js"
import * as Internal from "../internal/assumeRole.js"
import * as FromArn from "../internal/roleFromArn.js"
import { sourceLayer } from "../internal/provider.js"
import type * as Process from "./ProcessCredentials.js"

const source = "assume-role" satisfies Credentials.Source

/**
 * Tunables of the `assume-role` source.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** How long one STS attempt may take. Default 10 seconds. */
  readonly timeout?: Duration.DurationInput | undefined
  /** How many STS attempts at most (throttling, 5xx, timeouts, unreachable). Default 3. */
  readonly maxAttempts?: number | undefined
  /** Tunables of a `credential_process` at the root of the chain. */
  readonly process?: Process.Options | undefined
  /**
   * `"cli"`: share assumed-role credentials through the AWS CLI's cache
   * (`~/.aws/cli/cache/<key>.json`, same keys and format), so that several processes and the
   * CLI assume a role once and an MFA code is asked for once per set of credentials. Off by
   * default, as in botocore (only the CLI turns it on).
   */
  readonly cache?: "cli" | undefined
}

/**
 * The `assume-role` source with its tunables. Provide an `MfaTokenProvider` for profiles with
 * `mfa_serial`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerWith = (
  options: Options
): Layer.Layer<
  AwsCredentials,
  CredentialsUnavailable | CredentialsError,
  AwsSession | FileSystem.FileSystem | CommandExecutor.CommandExecutor
> =>
  // The roots' state lives as long as the layer (see `RootState`).
  Layer.unwrapEffect(
    Effect.map(Internal.makeRootState, (state) => sourceLayer(source, Internal.fetchCredentials(options, state)))
  )

/**
 * The `assume-role` source (10 s per STS attempt, 3 attempts; 60 s for a root
 * `credential_process`).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<
  AwsCredentials,
  CredentialsUnavailable | CredentialsError,
  AwsSession | FileSystem.FileSystem | CommandExecutor.CommandExecutor
> = layerWith({})

/**
 * A role to assume in code (see `layerFromArn`).
 *
 * @since 0.1.0
 * @category models
 */
export interface FromArnOptions {
  /** The role: `arn:aws:iam::123456789012:role/Name` (any partition). */
  readonly roleArn: string
  /** 2 to 64 of `[\w+=,.@-]`. Default botocore's `botocore-session-<unix seconds>`, fixed when the layer is built. */
  readonly roleSessionName?: string | undefined
  /** The external id the role's trust policy asks for, if it does. */
  readonly externalId?: string | undefined
  /** Lifetime of each set of credentials, 900 to 43200 (at most the role's maximum). Default 3600. */
  readonly durationSeconds?: number | undefined
  /** A session policy, as JSON text or as the document itself (sent as JSON). */
  readonly policy?: string | object | undefined
  /** Session tags, as STS's `{ Key, Value }` list or as a record. */
  readonly tags?: ReadonlyArray<{ readonly Key: string; readonly Value: string }> | Readonly<Record<string, string>> | undefined
  /**
   * For a role whose trust policy requires MFA: the device's ARN or serial number, and the code
   * (an effect, asked at every fetch since a code is good once). Without `tokenCode` the
   * `MfaTokenProvider` service is asked (its request's `profile` is the session's profile).
   */
  readonly mfa?: {
    readonly serialNumber: string
    readonly tokenCode?: Effect.Effect<string | Redacted.Redacted<string>, unknown> | undefined
  } | undefined
  /** How long one STS attempt may take. Default 10 seconds. */
  readonly timeout?: Duration.DurationInput | undefined
  /** How many STS attempts at most (throttling, 5xx, timeouts, unreachable). Default 3. */
  readonly maxAttempts?: number | undefined
}

/**
 * Credentials of `roleArn`, assumed with the `AwsCredentials` the layer is given (the parent:
 * the default chain, a static key, another role). STS calls go where the `AwsSession`'s profile
 * sends them (region, `AWS_ENDPOINT_URL_STS`, ...), as for roles from profiles; without a session
 * in the context, where the environment alone sends them (`AWS_REGION`, `AWS_ENDPOINT_URL_STS`).
 *
 * Like every source, the layer resolves once while it is built, and fails then with a
 * `CredentialsError` (`InvalidConfiguration` for options STS would refuse, the parent's reason
 * when the parent fails, `ServiceError` when STS refuses, ...); afterwards the refresh engine
 * (`CredentialsCache`) renews the credentials before they expire, each time with the parent's
 * current credentials. Provenance: `assume-role arn:aws:iam::111111111111:role/Audit from
 * <parent's provenance>, via STS ...`; the source label is `assume-role`.
 *
 * A role assumed from another role is one layer on another:
 * `layerFromArn(b).pipe(Layer.provide(layerFromArn(a)), Layer.provide(CredentialChain.layerNode()))`
 * (both take the session from `layerNode`, which provides `AwsSession` alongside the chain).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerFromArn = (
  options: FromArnOptions
): Layer.Layer<AwsCredentials, CredentialsError, AwsCredentials> =>
  Layer.unwrapEffect(Effect.map(FromArn.prepare(options), (prepared) => sourceLayer(source, FromArn.fetchOnSession(prepared)))).pipe(
    // The fetch never reports "nothing configured"; the type says so.
    Layer.mapError((error): CredentialsError =>
      error._tag === "CredentialsError"
        ? error
        : new CredentialsError({ source, reason: "InvalidConfiguration", detail: error.detail })
    )
  )
