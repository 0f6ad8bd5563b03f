/**
 * Credentials from boto 2's config file (botocore's `boto-config`): the `[Credentials]` section
 * of the file `BOTO_CONFIG` names, or else of `/etc/boto.cfg` and then `~/.boto` (botocore's
 * order: the first file whose `[Credentials]` has `aws_access_key_id` wins).
 *
 * @since 0.1.0
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import type * as Layer from "effect/Layer"
import type { AwsCredentials } from "../AwsCredentials.js"
import type * as Credentials from "../Credentials.js"
import type { CredentialsError, CredentialsUnavailable } from "../CredentialsError.js"
import { fetchCredentials } from "../internal/botoConfig.js"
import { sourceLayer } from "../internal/provider.js"

const source = "boto-config" satisfies Credentials.Source

/**
 * Tunables, mostly for tests: the files looked at when `BOTO_CONFIG` is not set.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Default `["/etc/boto.cfg", "~/.boto"]`, in that order. */
  readonly defaultPaths?: ReadonlyArray<string> | undefined
}

/**
 * The `boto-config` source with its tunables.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerWith = (
  options: Options
): Layer.Layer<AwsCredentials, CredentialsUnavailable | CredentialsError, FileSystem.FileSystem> =>
  sourceLayer(source, fetchCredentials(options))

/**
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<AwsCredentials, CredentialsUnavailable | CredentialsError, FileSystem.FileSystem> =
  layerWith({})
