/**
 * How every source keeps expiring credentials fresh: the refresh windows and retry policy
 * (`RefreshPolicy`, a `Context.Reference` with botocore's numbers as defaults) and the metrics
 * the refresh engine records.
 *
 * Every source layer goes through one engine: a background fiber, forked in the layer's scope,
 * refreshes at the start of the advisory window (with a little jitter) so that callers normally
 * never wait; in the advisory window a failed refresh keeps the current credentials and retries
 * with jittered exponential backoff; in the mandatory window callers wait for a refresh, which
 * all of them share (single flight); credentials that are still valid are served when a refresh
 * fails, and `get` fails with the refresh error only once they have expired.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"

/**
 * The tunables of the refresh engine.
 *
 * @since 0.1.0
 * @category models
 */
export interface Policy {
  /** Refresh in the background from this long before expiry. Default 15 minutes (botocore). */
  readonly advisoryWindow: Duration.Duration
  /** From this long before expiry, callers wait for fresh credentials. Default 10 minutes (botocore). */
  readonly mandatoryWindow: Duration.Duration
  /** The background refresh starts at a random moment up to this long after the advisory window opens. Default 30 s. */
  readonly jitter: Duration.Duration
  /** The first retry after a failed refresh. Default 1 s; doubled per failure. */
  readonly retryBase: Duration.Duration
  /** The longest wait between retries. Default 60 s. */
  readonly retryMax: Duration.Duration
  /**
   * Invalidations within this long after a fetch are ignored: the credentials are that fresh
   * already, and a burst of `ExpiredToken` answers must not become a burst of fetches.
   * Default 5 s.
   */
  readonly invalidationCooldown: Duration.Duration
}

/**
 * The defaults: botocore's windows (advisory 15 min, mandatory 10 min).
 *
 * @since 0.1.0
 * @category models
 */
export const defaultPolicy: Policy = {
  advisoryWindow: Duration.minutes(15),
  mandatoryWindow: Duration.minutes(10),
  jitter: Duration.seconds(30),
  retryBase: Duration.seconds(1),
  retryMax: Duration.seconds(60),
  invalidationCooldown: Duration.seconds(5)
}

/**
 * The policy in effect; `defaultPolicy` unless a layer provides another.
 *
 * @since 0.1.0
 * @category references
 */
export class RefreshPolicy extends Context.Reference<RefreshPolicy>()(
  "effect-aws-credentials/RefreshPolicy",
  { defaultValue: () => defaultPolicy }
) {}

/**
 * Overrides some of the policy for the source layers built under it:
 * `Layer.provide(source, CredentialsCache.layerPolicy({ advisoryWindow: "5 minutes" }))`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerPolicy = (
  policy: { readonly [K in keyof Policy]?: Duration.DurationInput | undefined }
): Layer.Layer<never> => {
  const decoded: { -readonly [K in keyof Policy]: Duration.Duration } = { ...defaultPolicy }
  for (const key of Object.keys(defaultPolicy) as Array<keyof Policy>) {
    const value = policy[key]
    if (value !== undefined) decoded[key] = Duration.decode(value)
  }
  return Layer.succeed(RefreshPolicy, decoded)
}

/**
 * Refreshes attempted, tagged with `source` and `outcome` (`success` or `failure`).
 *
 * @since 0.1.0
 * @category metrics
 */
export const refreshes: Metric.Metric.Counter<number> = Metric.counter("aws_credentials_refreshes_total", {
  description: "Credential refreshes attempted, by source and outcome"
})

/**
 * Calls to `get` answered with the current credentials because a refresh they waited for failed
 * (the credentials were still valid), tagged with `source`.
 *
 * @since 0.1.0
 * @category metrics
 */
export const servedStale: Metric.Metric.Counter<number> = Metric.counter("aws_credentials_served_stale_total", {
  description: "get calls served with current credentials after a failed refresh"
})
