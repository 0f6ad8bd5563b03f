/**
 * Credentials from a container credentials endpoint (botocore's `container-role`): the ECS task
 * role (`AWS_CONTAINER_CREDENTIALS_RELATIVE_URI`, against `http://169.254.170.2`) and EKS Pod
 * Identity or any other endpoint given as `AWS_CONTAINER_CREDENTIALS_FULL_URI`.
 *
 * A full URI may use `https` to any host; over plain `http` it must point at a loopback address
 * (`127.0.0.0/8`, `::1`, or a name such as `localhost` that resolves only to loopback addresses,
 * as the Rust SDK checks), the ECS endpoint `169.254.170.2`, or the EKS Pod Identity endpoints
 * `169.254.170.23` / `fd00:ec2::23`. The authorization token (`AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE`,
 * else `AWS_CONTAINER_AUTHORIZATION_TOKEN`) is read again for every fetch, since EKS rotates the file.
 *
 * @since 0.1.0
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import type * as HttpClient from "@effect/platform/HttpClient"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import type { AwsCredentials } from "../AwsCredentials.js"
import type * as Credentials from "../Credentials.js"
import type { CredentialsError, CredentialsUnavailable } from "../CredentialsError.js"
import * as Fetcher from "../internal/container.js"
import { sourceLayer } from "../internal/provider.js"

const source = "container-role" satisfies Credentials.Source

/**
 * Tunables of the `container-role` source.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Per attempt. Default 2 seconds (botocore's). */
  readonly timeout?: Duration.DurationInput | undefined
  /** Attempts in all, retrying 5xx answers and transport errors. Default 3 (botocore's). */
  readonly maxAttempts?: number | undefined
  /** The first wait between attempts, doubled and jittered. Default 1 second (botocore sleeps 1 s). */
  readonly backoff?: Duration.DurationInput | undefined
  /** The HTTP client to use instead of Node's `fetch` (for a custom agent, or a test double). */
  readonly httpClient?: HttpClient.HttpClient | undefined
  /**
   * Resolves a host name to its addresses, to check that an `http` full URI names only loopback
   * addresses. Default: the system resolver (`dns.lookup`, all addresses).
   */
  readonly lookup?: ((host: string) => Effect.Effect<ReadonlyArray<string>, unknown>) | undefined
}

/**
 * The defaults of `Options`.
 *
 * @since 0.1.0
 * @category models
 */
export const defaults: {
  readonly timeout: Duration.Duration
  readonly maxAttempts: number
  readonly backoff: Duration.Duration
} = Fetcher.defaults

/**
 * The `container-role` source with tunables.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerWith = (
  options: Options
): Layer.Layer<AwsCredentials, CredentialsUnavailable | CredentialsError, FileSystem.FileSystem> =>
  sourceLayer(
    source,
    Fetcher.fetchCredentials(Fetcher.settingsOf(options))
  )

/**
 * The `container-role` source with botocore's timeout (2 s) and attempts (3).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<AwsCredentials, CredentialsUnavailable | CredentialsError, FileSystem.FileSystem> =
  layerWith({})
