/**
 * Credentials from IAM Identity Center (botocore's `sso`): a profile with `sso_account_id` and
 * `sso_role_name`, and either an `sso_session` naming an `[sso-session NAME]` section
 * (`sso_start_url`, `sso_region`) or, legacy, `sso_start_url` and `sso_region` in the profile
 * itself. The token `aws sso login` cached in `~/.aws/sso/cache/` is exchanged for the role's
 * credentials with the portal's `GetRoleCredentials`; `sso_session` tokens are refreshed through
 * SSO-OIDC when they are about to expire, and the cache is written back atomically.
 *
 * The cache is read at every fetch, so an `aws sso login` made while the program runs is picked
 * up at the next refresh. The SDK clients and `Schema` are loaded only for a configured profile.
 *
 * With `cache: "cli"` the role credentials are shared with other processes and the AWS CLI v2
 * through `~/.aws/cli/cache/<key>.json` (see `internal/cliCache.ts`): an entry with more than 15
 * minutes left is used without reading the token or calling the portal, as botocore does.
 *
 * @since 0.1.0
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type { AwsCredentials } from "../AwsCredentials.js"
import { AwsSession } from "../AwsSession.js"
import type * as Credentials from "../Credentials.js"
import type { CredentialsError, CredentialsUnavailable } from "../CredentialsError.js"
import { sourceLayer } from "../internal/provider.js"
import * as SsoProfile from "../internal/ssoProfile.js"

const source = "sso" satisfies Credentials.Source

/**
 * Tunables of the `sso` source.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** How long one call to the portal or to SSO-OIDC may take. Default 10 seconds. */
  readonly timeout?: Duration.DurationInput | undefined
  /** Attempts per call, for timeouts, connection errors, throttling and 5xx. Default 3. */
  readonly maxAttempts?: number | undefined
  /** Refresh an `sso_session` token this long before it expires. Default 15 minutes (botocore). */
  readonly tokenRefreshWindow?: Duration.DurationInput | undefined
  /** After a refresh attempt, wait this long before another one. Default 60 seconds (botocore). */
  readonly tokenRefreshRetryInterval?: Duration.DurationInput | undefined
  /**
   * `"cli"`: share the role credentials through the AWS CLI's cache
   * (`~/.aws/cli/cache/<key>.json`, same keys and format as the AWS CLI v2), so that several
   * processes and the CLI call the portal once per set of credentials. Off by default, as in
   * botocore (only the CLI v2 turns it on). Applies to the profile this source resolves, not to
   * an SSO source profile at the root of an assume-role chain (the CLI does not cache those on
   * disk either).
   */
  readonly cache?: "cli" | undefined
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
  readonly tokenRefreshWindow: Duration.Duration
  readonly tokenRefreshRetryInterval: Duration.Duration
} = SsoProfile.defaults

/**
 * The `sso` source with its tunables.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerWith = (
  options: Options
): Layer.Layer<AwsCredentials, CredentialsUnavailable | CredentialsError, AwsSession | FileSystem.FileSystem> => {
  const settings = SsoProfile.settingsOf(options)
  // One refresh gate for the layer's life: a failing CreateToken is not asked again at each refresh.
  return Layer.unwrapEffect(Effect.map(SsoProfile.makeGate, (gate) =>
    sourceLayer(
      source,
      Effect.flatMap(AwsSession, (session) =>
        SsoProfile.fetchCredentials({ session, profileName: session.profileName, gate }, settings))
    )))
}

/**
 * The `sso` source with the defaults (10 s per call, 3 attempts, token refresh 15 minutes ahead).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<
  AwsCredentials,
  CredentialsUnavailable | CredentialsError,
  AwsSession | FileSystem.FileSystem
> = layerWith({})
