/**
 * Credentials of the IAM role attached to an EC2 instance, from the instance metadata service
 * (botocore's `iam-role`): IMDSv2 with a session token, falling back to IMDSv1 the way botocore
 * does unless v1 is disabled, and statically stable (an outage of the metadata service during a
 * refresh keeps the last credentials alive for a few more minutes instead of failing). When
 * nothing answers at the endpoint, the session remembers it for a minute and the region's
 * metadata link (`AwsRegion`) does not ask again; when the region asked first, this link does not.
 *
 * Settings, each from the environment first, then the active profile:
 *
 * | variable | profile key | default |
 * |---|---|---|
 * | `AWS_EC2_METADATA_DISABLED` | | `false` |
 * | `AWS_EC2_METADATA_SERVICE_ENDPOINT` | `ec2_metadata_service_endpoint` | from the mode |
 * | `AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE` | `ec2_metadata_service_endpoint_mode` | `IPv4`: `http://169.254.169.254`; `IPv6`: `http://[fd00:ec2::254]` |
 * | `AWS_EC2_METADATA_V1_DISABLED` | `ec2_metadata_v1_disabled` | `false` |
 * | `AWS_METADATA_SERVICE_TIMEOUT` | `metadata_service_timeout` | 1 second (at most 5 minutes) |
 * | `AWS_METADATA_SERVICE_NUM_ATTEMPTS` | `metadata_service_num_attempts` | 1 (at most 10) |
 *
 * @since 0.1.0
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type { AwsCredentials } from "../AwsCredentials.js"
import type { AwsSession } from "../AwsSession.js"
import type * as Credentials from "../Credentials.js"
import type { CredentialsError, CredentialsUnavailable } from "../CredentialsError.js"
import * as Client from "../internal/imdsClient.js"
import * as Settings from "../internal/imdsSettings.js"
import { sourceLayer } from "../internal/provider.js"

const source = "iam-role" satisfies Credentials.Source

/**
 * Tunables of the `iam-role` source. Each one given here wins over the environment and the
 * profile.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The service's base URL (as `AWS_EC2_METADATA_SERVICE_ENDPOINT`). */
  readonly endpoint?: string | undefined
  /** The default endpoint's address family, `IPv4` or `IPv6` (as `AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE`). */
  readonly endpointMode?: string | undefined
  /** Per request (as `AWS_METADATA_SERVICE_TIMEOUT`). Default 1 second, at most 5 minutes. */
  readonly timeout?: Duration.DurationInput | undefined
  /** Attempts per request (as `AWS_METADATA_SERVICE_NUM_ATTEMPTS`). Default 1, at most 10. */
  readonly maxAttempts?: number | undefined
  /** The HTTP client to use instead of Node's `fetch` (for a custom agent, or a test double). */
  readonly httpClient?: HttpClient.HttpClient | undefined
}

/**
 * The `iam-role` source with tunables. Each layer keeps its own token and last credentials.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerWith = (
  options: Options
): Layer.Layer<AwsCredentials, CredentialsUnavailable | CredentialsError, AwsSession> =>
  Layer.unwrapEffect(
    Effect.map(Settings.makeState, (state) => sourceLayer(source, Client.resolveCredentials(options, state)))
  )

/**
 * The `iam-role` source with the settings from the environment and the profile.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<AwsCredentials, CredentialsUnavailable | CredentialsError, AwsSession> = layerWith(
  {}
)
