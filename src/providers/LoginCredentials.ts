/**
 * Credentials from an `aws login` console session (botocore's `login`): a profile with
 * `login_session`, whose session the AWS CLI cached in `~/.aws/login/cache/<sha256>.json` (or in
 * `AWS_LOGIN_CACHE_DIRECTORY`). The cached credentials are used while they have more than five
 * minutes left; then the session is refreshed through the sign-in service (`CreateOAuth2Token`
 * with a DPoP proof), and the cache is written back atomically. The cache is read at every fetch,
 * so an `aws login` made while the program runs is picked up at the next refresh.
 *
 * The sign-in client (`@aws-sdk/nested-clients`) is loaded only for a profile with `login_session`.
 *
 * @since 0.1.0
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import type { AwsCredentials } from "../AwsCredentials.js"
import { AwsSession } from "../AwsSession.js"
import type * as Credentials from "../Credentials.js"
import type { CredentialsError, CredentialsUnavailable } from "../CredentialsError.js"
import * as LoginProfile from "../internal/loginProfile.js"
import { sourceLayer } from "../internal/provider.js"

const source = "login" satisfies Credentials.Source

/**
 * Tunables of the `login` source.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** How long one call to the sign-in service may take. Default 10 seconds. */
  readonly timeout?: Duration.DurationInput | undefined
  /** Attempts per call, for timeouts, connection errors, throttling and 5xx. Default 3. */
  readonly maxAttempts?: number | undefined
  /** Refresh the session when its credentials expire within this long. Default 5 minutes (AWS CLI, SDKs). */
  readonly refreshThreshold?: Duration.DurationInput | undefined
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
  readonly refreshThreshold: Duration.Duration
} = LoginProfile.defaults

/**
 * The `login` source with its tunables.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerWith = (
  options: Options
): Layer.Layer<AwsCredentials, CredentialsUnavailable | CredentialsError, AwsSession | FileSystem.FileSystem> => {
  const settings = LoginProfile.settingsOf(options)
  return sourceLayer(
    source,
    Effect.flatMap(AwsSession, (session) =>
      LoginProfile.fetchCredentials({ session, profileName: session.profileName }, settings))
  )
}

/**
 * The `login` source with the defaults (10 s per call, 3 attempts, refresh 5 minutes ahead).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<
  AwsCredentials,
  CredentialsUnavailable | CredentialsError,
  AwsSession | FileSystem.FileSystem
> = layerWith({})
