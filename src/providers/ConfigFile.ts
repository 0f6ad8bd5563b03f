/**
 * Static keys of the active profile in the config file (`~/.aws/config` or `AWS_CONFIG_FILE`);
 * botocore's `config-file`, which the chain tries after `custom-process`.
 *
 * @since 0.1.0
 */
import type * as Layer from "effect/Layer"
import type { AwsCredentials } from "../AwsCredentials.js"
import type { AwsSession } from "../AwsSession.js"
import type * as Credentials from "../Credentials.js"
import type { CredentialsError, CredentialsUnavailable } from "../CredentialsError.js"
import { keysFromFile } from "../internal/profileKeys.js"
import { sourceLayer } from "../internal/provider.js"

const source = "config-file" satisfies Credentials.Source

/**
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<AwsCredentials, CredentialsUnavailable | CredentialsError, AwsSession> =
  sourceLayer(source, keysFromFile({ source, file: (session) => session.configFile, fileLabel: "config file" }))
