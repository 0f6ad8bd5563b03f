/**
 * Credentials from `AssumeRoleWithWebIdentity` (botocore's `assume-role-with-web-identity`): an
 * OIDC token in a file (EKS IRSA, GitHub Actions, ...) exchanged for a role's credentials with an
 * unsigned STS call. The token file is read again at every refresh, since its issuer rotates it.
 *
 * Configuration, each setting from the environment first and then from the active profile, as
 * botocore reads them (so the two may mix):
 *
 * | setting | environment | profile |
 * |---|---|---|
 * | token file | `AWS_WEB_IDENTITY_TOKEN_FILE` | `web_identity_token_file` |
 * | role | `AWS_ROLE_ARN` | `role_arn` |
 * | session name | `AWS_ROLE_SESSION_NAME` | `role_session_name` |
 *
 * The environment is ignored when the profile was named in code or on the command line
 * (botocore's `disable_env_vars`). No token file: unavailable. A token file without a role:
 * `InvalidConfiguration`. The session name defaults to `botocore-session-<unix time>`.
 *
 * STS is called in the configured region (explicit, environment or profile; never the instance
 * metadata service's), or at the global endpoint without one, as botocore does (`internal/sts.ts`).
 * The provenance ends with where the call went, e.g. `via STS us-east-1 (global endpoint, no
 * region configured)`.
 *
 * @since 0.1.0
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import type * as Duration from "effect/Duration"
import type * as Layer from "effect/Layer"
import type { AwsCredentials } from "../AwsCredentials.js"
import type { AwsSession } from "../AwsSession.js"
import type * as Credentials from "../Credentials.js"
import type { CredentialsError, CredentialsUnavailable } from "../CredentialsError.js"
import { sourceLayer } from "../internal/provider.js"
import * as Internal from "../internal/webIdentity.js"

const source = "assume-role-with-web-identity" satisfies Credentials.Source

/**
 * Tunables of the STS call.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** How long one STS attempt may take. Default 10 seconds. */
  readonly timeout?: Duration.DurationInput | undefined
  /** How many STS attempts at most (throttling, 5xx, timeouts, unreachable). Default 3. */
  readonly maxAttempts?: number | undefined
}

/**
 * The `assume-role-with-web-identity` source with its tunables.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerWith = (
  options: Options
): Layer.Layer<AwsCredentials, CredentialsUnavailable | CredentialsError, AwsSession | FileSystem.FileSystem> =>
  sourceLayer(source, Internal.fetchCredentials(options))

/**
 * The `assume-role-with-web-identity` source (10 s per STS attempt, 3 attempts).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<
  AwsCredentials,
  CredentialsUnavailable | CredentialsError,
  AwsSession | FileSystem.FileSystem
> = layerWith({})
