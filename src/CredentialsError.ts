/**
 * The three ways a credential source can end: nothing configured (`CredentialsUnavailable`,
 * the chain moves on), configured but broken (`CredentialsError`, the chain stops), and every
 * link unavailable (`NoCredentialsFound`).
 *
 * Messages never contain a secret: errors carry names, paths, line numbers, exit codes and
 * scrubbed, bounded stderr, never key material or a process's stdout. Every `detail` and `reason`
 * passes through the package's scrubber when the error is made (secret-named fields, secrets the
 * library has handled, URL credentials removed; control characters escaped; bounded), so that
 * whatever a source put into it, the error is safe to log.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import type { Source } from "./Credentials.js"
import { scrubMessage } from "./internal/scrub.js"

/**
 * One link of a chain as it was tried: its outcome, why, and how long it took.
 *
 * @since 0.1.0
 * @category models
 */
export interface Attempt {
  readonly source: Source
  readonly outcome: "unavailable" | "failed" | "resolved"
  readonly reason: string
  readonly durationMs: number
}

/**
 * Why a source had nothing to offer.
 *
 * - `NotConfigured`: nothing this source reads is set (no variable, no profile key, no file).
 * - `Disabled`: the source is turned off (`AWS_EC2_METADATA_DISABLED`, a link `skip`ped).
 * - `NoRole`: the instance has no IAM role, or its role has no credentials.
 * - `Unreachable`: the instance metadata service did not answer (botocore treats that as
 *   "not on EC2" and moves on).
 *
 * @since 0.1.0
 * @category models
 */
export type UnavailableReason = "NotConfigured" | "Disabled" | "NoRole" | "Unreachable"

/**
 * Nothing is configured for this source; a chain moves on to its next link. `reason` is the
 * kind; `detail` says what was looked at, for `explain` and `NoCredentialsFound`.
 *
 * @since 0.1.0
 * @category errors
 */
export class CredentialsUnavailable extends Data.TaggedError("CredentialsUnavailable")<{
  readonly source: Source
  readonly reason: UnavailableReason
  readonly detail: string
}> {
  constructor(args: { readonly source: Source; readonly reason: UnavailableReason; readonly detail: string }) {
    super({ ...args, detail: scrubMessage(args.detail) })
  }

  /**
   * @since 0.1.0
   */
  override get message(): string {
    return `${this.source}: ${this.detail}`
  }
}

/**
 * Why a configured source failed.
 *
 * - `ProfileNotFound`: a profile named explicitly exists in neither file.
 * - `PartialCredentials`: an access key without its secret (or the reverse, in files).
 * - `MalformedFile`: a config, credentials or boto file that does not parse.
 * - `FileUnreadable`: a file that exists but cannot be read (a directory, permissions, I/O).
 * - `InvalidConfiguration`: a setting with an unusable value (bad timestamp, bad URL, ...).
 * - `ProcessFailed`: `credential_process` could not start or exited non-zero.
 * - `ProcessTimeout`: `credential_process` did not finish in time and was killed.
 * - `InvalidProcessOutput`: `credential_process` printed something that is not version 1 JSON.
 * - `Expired`: a source returned credentials that had already expired.
 * - `InfiniteLoop`: a `source_profile` cycle.
 * - `Unreachable`, `Timeout`, `InvalidResponse`, `ServiceError`: a remote source's endpoint.
 * - `TokenExpired`, `TokenMissing`: an SSO / login token cache that needs a new login.
 * - `MfaRequired`: a role that needs an MFA code and no provider for it.
 *
 * @since 0.1.0
 * @category models
 */
export type Reason =
  | "ProfileNotFound"
  | "PartialCredentials"
  | "MalformedFile"
  | "FileUnreadable"
  | "InvalidConfiguration"
  | "ProcessFailed"
  | "ProcessTimeout"
  | "InvalidProcessOutput"
  | "Expired"
  | "InfiniteLoop"
  | "Unreachable"
  | "Timeout"
  | "InvalidResponse"
  | "ServiceError"
  | "TokenExpired"
  | "TokenMissing"
  | "MfaRequired"

/**
 * The fields of a `CredentialsError`.
 *
 * @since 0.1.0
 * @category models
 */
export interface CredentialsErrorFields {
  /** The source that failed; absent for errors found while loading the session itself. */
  readonly source?: Source | undefined
  readonly reason: Reason
  /** What went wrong, in words a user can act on. Never contains a secret. */
  readonly detail: string
  readonly profile?: string | undefined
  readonly path?: string | undefined
  readonly line?: number | undefined
  readonly cause?: unknown
  /** The chain's attempts up to and including this failure (set by the chain). */
  readonly attempts?: ReadonlyArray<Attempt> | undefined
}

/**
 * A source is configured but broken. A chain stops here and returns this error, with the
 * attempts made so far.
 *
 * @since 0.1.0
 * @category errors
 */
export class CredentialsError extends Data.TaggedError("CredentialsError")<CredentialsErrorFields> {
  constructor(fields: CredentialsErrorFields) {
    super({ ...fields, detail: scrubMessage(fields.detail) })
  }

  /**
   * @since 0.1.0
   */
  override get message(): string {
    const where: Array<string> = []
    if (this.profile !== undefined) where.push(`profile ${this.profile}`)
    if (this.path !== undefined) where.push(this.line === undefined ? this.path : `${this.path}:${this.line}`)
    const prefix = this.source === undefined ? "" : `${this.source}: `
    // The profile and path came from outside too (a variable, a file): scrubbed like the detail.
    return `${prefix}${where.length > 0 ? `${scrubMessage(where.join(", "))}: ` : ""}${this.detail}`
  }
}

/**
 * Every link of a chain was unavailable. The message lists each link and why it was skipped.
 *
 * @since 0.1.0
 * @category errors
 */
export class NoCredentialsFound extends Data.TaggedError("NoCredentialsFound")<{
  readonly attempts: ReadonlyArray<Attempt>
}> {
  /**
   * @since 0.1.0
   */
  override get message(): string {
    if (this.attempts.length === 0) return "No credentials found: the chain has no links."
    return [
      "No credentials found. Tried, in order:",
      ...this.attempts.map((attempt) => `  - ${attempt.source}: ${attempt.reason}`)
    ].join("\n")
  }
}
