/**
 * The refresh policy's defaults, the reference the engine reads it from, its one check, and the
 * engine's metrics. `CredentialsCache` re-exports them under their public types (declared there,
 * so that the published declarations never name this module); the engine imports them from here,
 * so that no internal module imports a value back from the public one.
 */
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Metric from "effect/Metric"

/** botocore's windows (advisory 15 min, mandatory 10 min) and our retry numbers. */
export const defaults = {
  advisoryWindow: Duration.minutes(15),
  mandatoryWindow: Duration.minutes(10),
  jitter: Duration.seconds(30),
  retryBase: Duration.seconds(1),
  retryMax: Duration.seconds(60),
  invalidationCooldown: Duration.seconds(5),
  minimumRefreshInterval: Duration.seconds(15)
} as const satisfies Record<string, Duration.Duration>

export type Key = keyof typeof defaults

/** A policy as it may arrive: any field missing, and (from a user or a JavaScript caller) any value unusable. */
export type Input = { readonly [K in Key]?: unknown }

/** A policy with every field a finite duration and the mandatory window within the advisory one. */
export type Checked = { readonly [K in Key]: Duration.Duration }

/** The key `CredentialsCache.RefreshPolicy` is provided under. */
export const referenceKey = "effect-aws-credentials/RefreshPolicy"

/**
 * The engine's view of `CredentialsCache.RefreshPolicy`: a reference is found by its key, so this
 * one reads whatever is provided under the public class (and shares its default, cached by key).
 */
export class Current extends Context.Reference<Current>()(referenceKey, {
  defaultValue: (): { readonly [K in Key]?: Duration.Duration | undefined } => defaults
}) {}

/** A duration, or `undefined` when it is negative, infinite or not a duration. */
const decode = (input: unknown): Duration.Duration | undefined => {
  if (typeof input === "number" && !(input >= 0)) return undefined
  if (typeof input === "bigint" && input < 0n) return undefined
  if (typeof input === "string" && /^\s*-/.test(input)) return undefined
  if (Array.isArray(input) && input.some((part) => typeof part === "number" && part < 0)) return undefined
  const decoded = Duration.decodeUnknown(input)
  return decoded._tag === "Some" && Duration.isFinite(decoded.value) ? decoded.value : undefined
}

/**
 * The one check of a policy, whoever wrote it (`CredentialsCache.layerPolicy`, or a
 * `RefreshPolicy` provided directly). Never fatal: an unusable value keeps its default; the
 * mandatory window never exceeds the advisory one (when only one of them is usable the other
 * follows it, silently; when both are, the mandatory one is lowered). Each change but the
 * silent one is described in `problems`, for a warning.
 */
export const check = (input: Input): { readonly policy: Checked; readonly problems: ReadonlyArray<string> } => {
  const policy: { -readonly [K in Key]: Duration.Duration } = { ...defaults }
  const problems: Array<string> = []
  const given = new Set<Key>()
  for (const key of Object.keys(defaults) as Array<Key>) {
    const value = input[key]
    if (value === undefined) continue
    const duration = decode(value)
    if (duration === undefined) {
      problems.push(
        `${key}: ${String(value)} is not a usable duration (negative, infinite or unreadable); keeping the default ${
          Duration.format(defaults[key])
        }`
      )
      continue
    }
    policy[key] = duration
    given.add(key)
  }
  if (Duration.greaterThan(policy.mandatoryWindow, policy.advisoryWindow)) {
    if (given.has("mandatoryWindow") && !given.has("advisoryWindow")) {
      policy.advisoryWindow = policy.mandatoryWindow
    } else {
      if (given.has("mandatoryWindow")) {
        problems.push(
          `mandatoryWindow ${Duration.format(policy.mandatoryWindow)} is larger than advisoryWindow ${
            Duration.format(policy.advisoryWindow)
          }; using ${Duration.format(policy.advisoryWindow)} for both`
        )
      }
      policy.mandatoryWindow = policy.advisoryWindow
    }
  }
  return { policy, problems }
}

/** The policy in milliseconds, after the engine's floors. */
export interface Tuning {
  readonly advisoryWindow: number
  readonly mandatoryWindow: number
  readonly jitter: number
  readonly retryBase: number
  readonly retryMax: number
  readonly invalidationCooldown: number
  readonly minimumRefreshInterval: number
}

/** Below these, a setting would make the engine retry or refresh in a loop. */
const floors = { retryBase: 100, minimumRefreshInterval: 1_000 } as const

/**
 * The policy as the engine runs it: `check`ed, then with the engine's floors (`retryBase` and
 * `minimumRefreshInterval` have minimums, `retryMax` is at least `retryBase`). They apply to any
 * policy, so they live here rather than in `check`, whose result users can read back from the
 * reference. `adjusted` lists every change, for one warning.
 */
export const tuningFor = (input: Input): { readonly tuning: Tuning; readonly adjusted: ReadonlyArray<string> } => {
  const { policy, problems } = check(input)
  const adjusted = [...problems]
  const ms = (key: Key): number => Duration.toMillis(policy[key])
  const atLeast = (key: Key, floor: number, what: string): number => {
    if (ms(key) >= floor) return ms(key)
    adjusted.push(`${key} (${ms(key)} ms) is below ${what}; using ${floor} ms`)
    return floor
  }
  const retryBase = atLeast("retryBase", floors.retryBase, `${floors.retryBase} ms`)
  return {
    tuning: {
      advisoryWindow: ms("advisoryWindow"),
      mandatoryWindow: ms("mandatoryWindow"),
      jitter: ms("jitter"),
      retryBase,
      retryMax: atLeast("retryMax", retryBase, "retryBase"),
      invalidationCooldown: ms("invalidationCooldown"),
      minimumRefreshInterval: atLeast(
        "minimumRefreshInterval",
        floors.minimumRefreshInterval,
        `${floors.minimumRefreshInterval} ms`
      )
    },
    adjusted
  }
}

/** Refreshes attempted, tagged with `source` and `outcome` (`success` or `failure`). */
export const refreshes: Metric.Metric.Counter<number> = Metric.counter("aws_credentials_refreshes_total", {
  description: "Credential refreshes attempted, by source and outcome"
})

/** Calls to `get` answered with the current credentials after a refresh they waited for failed. */
export const servedStale: Metric.Metric.Counter<number> = Metric.counter("aws_credentials_served_stale_total", {
  description: "get calls served with current credentials after a failed refresh"
})
