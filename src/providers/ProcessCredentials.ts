/**
 * Credentials from the active profile's `credential_process` (botocore's `custom-process`):
 * the command is split like a POSIX shell would (no shell runs it), its standard output must be
 * version 1 JSON, and it is run again before expiring credentials expire.
 *
 * @since 0.1.0
 */
import type * as CommandExecutor from "@effect/platform/CommandExecutor"
import type * as Duration from "effect/Duration"
import type * as Layer from "effect/Layer"
import type { AwsCredentials } from "../AwsCredentials.js"
import type { AwsSession } from "../AwsSession.js"
import type * as Credentials from "../Credentials.js"
import type { CredentialsError, CredentialsUnavailable } from "../CredentialsError.js"
import * as Runner from "../internal/processRunner.js"
import { sourceLayer } from "../internal/provider.js"

const source = "custom-process" satisfies Credentials.Source

/**
 * Tunables of the `custom-process` source.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** How long the process may run before it is killed. Default 60 seconds. */
  readonly timeout?: Duration.DurationInput | undefined
  /** The most standard output (and, separately, standard error) read from it. Default 1 MiB. */
  readonly maxOutputBytes?: number | undefined
}

/**
 * The defaults of `Options`.
 *
 * @since 0.1.0
 * @category models
 */
export const defaults: { readonly timeout: Duration.Duration; readonly maxOutputBytes: number } = Runner.defaults

/**
 * The `custom-process` source with its tunables.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerWith = (
  options: Options
): Layer.Layer<
  AwsCredentials,
  CredentialsUnavailable | CredentialsError,
  AwsSession | CommandExecutor.CommandExecutor
> => sourceLayer(source, Runner.fetchCredentials(Runner.settingsOf(options)))

/**
 * The `custom-process` source with the default timeout (60 s).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<
  AwsCredentials,
  CredentialsUnavailable | CredentialsError,
  AwsSession | CommandExecutor.CommandExecutor
> = layerWith({})
