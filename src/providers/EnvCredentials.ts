/**
 * Credentials from environment variables (botocore's `env`): `AWS_ACCESS_KEY_ID`,
 * `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN` (or the legacy `AWS_SECURITY_TOKEN`),
 * `AWS_CREDENTIAL_EXPIRATION` and `AWS_ACCOUNT_ID`. Empty values count as unset.
 *
 * @since 0.1.0
 */
import type * as Layer from "effect/Layer"
import type { AwsCredentials } from "../AwsCredentials.js"
import type * as Credentials from "../Credentials.js"
import type { CredentialsError, CredentialsUnavailable } from "../CredentialsError.js"
import { fetchCredentials } from "../internal/envCredentials.js"
import { sourceLayer } from "../internal/provider.js"

const source = "env" satisfies Credentials.Source

/**
 * The `env` source as a layer. With `AWS_CREDENTIAL_EXPIRATION` set, the variables are read
 * again before the credentials expire (a process manager may have updated them).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<AwsCredentials, CredentialsUnavailable | CredentialsError> = sourceLayer(
  source,
  fetchCredentials
)
