/**
 * How every source keeps expiring credentials fresh: the refresh windows and retry policy
 * (`RefreshPolicy`, a `Context.Reference` with botocore's numbers as defaults) and the metrics
 * the refresh engine records. This comment is the one description of the engine's rules; the
 * engine (`internal/refreshDecision.ts`, the rules as pure functions, and `internal/refresh.ts`,
 * their effects) refers to it.
 *
 * Every source layer goes through one engine, living in the layer's scope (closing it stops the
 * background refresh). For credentials fetched at `F` that expire at `E` (a life `L = E - F`),
 * with `m` the `minimumRefreshInterval` (15 s):
 * - from the advisory moment, `max(E - advisoryWindow, F + max(L/2, m))`, a background fiber
 *   refreshes (at a random moment up to `jitter` later, within the window) so that callers
 *   normally never wait: a `get` gets the current credentials at once, and nudges the fiber if
 *   it is idle (never sooner than the fiber's own moment or retry time);
 * - from the mandatory moment, `max(E - mandatoryWindow, F + 3L/4, advisory)`, callers wait for a
 *   refresh, all of them for the same one (single flight);
 * - from `E`, a failed refresh is the caller's failure.
 * Neither moment is later than `E`; credentials without an expiry are never refreshed, unless
 * invalidated. The `L/2`, `3L/4` and `m` floors keep credentials that live shorter than the
 * windows from being fetched again on every call.
 * Callers outside Effect (`AwsCredentials.toAwsSdkProvider`) read the same decision without a
 * fiber (`AwsCredentials.Service.unsafeCurrent`): they are answered that way only when `get`
 * would serve the current credentials with nothing else to do (no nudge, wait, stale count or
 * failure); every other call runs `get`. It adds no rule.
 *
 * A failed refresh, of any kind, takes one path: counted (`refreshes`, outcome `failure`), logged
 * as a warning (source, reason, next attempt), and retried by the background fiber with jittered
 * exponential backoff (`retryBase`, 1 s, doubled per failure, at most `retryMax`, 60 s; each
 * wait 50-100 % of that). While the current credentials are valid and not invalidated they are
 * kept: callers that waited for the failed refresh are served them (counted in `servedStale`),
 * and `get` fails with the refresh error only once they have expired. A refresh fails when the
 * source fails; when its fetch dies (a thrown exception, `Effect.die`: reason `InvalidResponse`,
 * with the defect's message left out of the error, as it may hold a secret, and kept `Redacted`
 * as its `cause`); and when the credentials it returns have already expired (a local clock
 * skewed against the issuer's, or a broken source: reason `Expired`, naming the source and the
 * expiry), so that an always-expired source is asked at the backoff's pace, never in a loop.
 * Credentials found already expired while the layer is built are treated the same way.
 *
 * The rules that keep a broken source from being hammered:
 * - The source is asked again no sooner than `m` after a fetch. Credentials living shorter than
 *   that are served while valid, with a warning; once they expire, `get` fails at once (reason
 *   `Expired`, saying when the source is asked again) until `m` has passed. Lower
 *   `minimumRefreshInterval` for a source that really issues such credentials.
 * - In the mandatory window a caller joins the refresh in flight, or starts one, unless an
 *   attempt ended less than `invalidationCooldown` (5 s) ago and failed: that failure is its
 *   answer, and it is served the still-valid credentials at once. So callers wait for at most one
 *   fetch, and demand drives at most one attempt per 5 s (the backoff paces the background
 *   fiber).
 * - `invalidate` marks the current credentials as bad (a service refused them): they are not
 *   served again. Within `invalidationCooldown` after a successful fetch it is ignored (those
 *   credentials are that fresh, and a burst of `ExpiredToken` answers must not become a burst of
 *   fetches); a refresh in flight answers it (callers now wait for that one).
 * - When the current credentials cannot be served (invalidated, or expired), `get` joins the
 *   refresh in flight, or starts one if the source is not failing; if it is, only once both the
 *   backoff's retry time and `invalidationCooldown` after the last attempt have passed. Until
 *   then `get` fails at once with the last refresh error instead of fetching again or serving
 *   credentials a service has just refused.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Metric from "effect/Metric"
import * as RefreshPolicyInternal from "./internal/refreshPolicy.js"

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
  /** The first retry after a failed refresh. Default 1 s (at least 100 ms); doubled per failure. */
  readonly retryBase: Duration.Duration
  /** The longest wait between retries. Default 60 s (at least `retryBase`). */
  readonly retryMax: Duration.Duration
  /**
   * The spacing of the fetches callers can cause. Invalidations within this long after a
   * successful fetch are ignored (the credentials are that fresh already, and a burst of
   * `ExpiredToken` answers must not become a burst of fetches); after a failed attempt, neither
   * an invalidated `get` nor one in the mandatory window starts another until this long after
   * it. Default 5 s.
   */
  readonly invalidationCooldown: Duration.Duration
  /**
   * The source is asked again no sooner than this after a fetch: credentials living shorter
   * are served while valid and then `get` fails (`Expired`) until this has passed, so a source
   * of very short-lived credentials is not asked in a loop; lower it for a source that really
   * issues such credentials. Default 15 s (at least 1 s). Optional so that a `Policy` written
   * out in full before it existed still type-checks.
   */
  readonly minimumRefreshInterval?: Duration.Duration | undefined
}

/**
 * The defaults: botocore's windows (advisory 15 min, mandatory 10 min); every field is set.
 *
 * @since 0.1.0
 * @category models
 */
export const defaultPolicy: Policy = RefreshPolicyInternal.defaults

/**
 * The policy in effect; `defaultPolicy` unless a layer provides another.
 *
 * @since 0.1.0
 * @category references
 */
export class RefreshPolicy extends Context.Reference<RefreshPolicy>()(
  RefreshPolicyInternal.referenceKey,
  { defaultValue: () => defaultPolicy }
) {}

/**
 * Overrides some of the policy for the source layers built under it:
 * `Layer.provide(source, CredentialsCache.layerPolicy({ advisoryWindow: "5 minutes" }))`.
 *
 * Values are checked, never fatal: a negative, infinite or unreadable duration keeps its
 * default, with a warning logged when the layer is built. The mandatory window never exceeds
 * the advisory one: when only one of them is given, the other follows it (advisory 5 minutes
 * alone also moves the mandatory window to 5 minutes); when both are given and the mandatory
 * one is larger, it is lowered to the advisory one, with a warning. The engine's own floors
 * (`retryBase` at least 100 ms, `retryMax` at least `retryBase`, `minimumRefreshInterval` at
 * least 1 s) apply to any policy, however it was provided, and are logged when they bite.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerPolicy = (
  policy: { readonly [K in keyof Policy]?: Duration.DurationInput | undefined }
): Layer.Layer<never> => {
  const { policy: resolved, problems } = RefreshPolicyInternal.check(policy)
  return problems.length === 0
    ? Layer.succeed(RefreshPolicy, resolved)
    : Layer.effect(
      RefreshPolicy,
      Effect.as(
        Effect.forEach(problems, (warning) => Effect.logWarning(`CredentialsCache.layerPolicy: ${warning}`), {
          discard: true
        }),
        resolved
      )
    )
}

/**
 * Refreshes attempted, tagged with `source` and `outcome` (`success` or `failure`).
 *
 * @since 0.1.0
 * @category metrics
 */
export const refreshes: Metric.Metric.Counter<number> = RefreshPolicyInternal.refreshes

/**
 * Calls to `get` answered with the current credentials because a refresh they waited for failed
 * (the credentials were still valid), tagged with `source`.
 *
 * @since 0.1.0
 * @category metrics
 */
export const servedStale: Metric.Metric.Counter<number> = RefreshPolicyInternal.servedStale
