/**
 * The one error of the S3 service, `S3Error`, and its reasons. A module of its own so that the
 * service's backends and its assembly can build it without importing `S3` back; `S3` re-exports
 * it.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"

// Errors
// ---------------------------------------------------------------------------------------------

/**
 * What went wrong, as a program would want to branch on it.
 *
 * - `NoSuchKey`, `NoSuchBucket`: the object or bucket does not exist.
 * - `AccessDenied`: the credentials are valid but not allowed to do this.
 * - `InvalidAccessKeyId`, `SignatureDoesNotMatch`: the access key is unknown, or its secret is
 *   wrong.
 * - `ExpiredToken`: the session token has expired (after the one retry with fresh credentials).
 * - `PreconditionFailed`: an `ifMatch` / `ifNoneMatch` condition did not hold.
 * - `BucketAlreadyOwnedByYou`: `createBucket` of a bucket you already own (outside us-east-1,
 *   where S3 answers success instead).
 * - `Throttled`: `SlowDown`, `503` and the like, after the retries.
 * - `Timeout`: no answer (or, for a body, no bytes) within the configured time.
 * - `Other`: anything else; `code` has the server's error code (`BucketNotEmpty`,
 *   `InvalidRange`, `EntityTooSmall`, ...) or the transport's (`ECONNREFUSED`).
 *
 * @since 0.1.0
 * @category errors
 */
export type Reason =
  | "NoSuchKey"
  | "NoSuchBucket"
  | "AccessDenied"
  | "InvalidAccessKeyId"
  | "SignatureDoesNotMatch"
  | "ExpiredToken"
  | "PreconditionFailed"
  | "BucketAlreadyOwnedByYou"
  | "Throttled"
  | "Timeout"
  | "Other"

/**
 * The one error of the S3 service. Carries the operation, the bucket and key it was about, the
 * HTTP status and the request id the server gave (what AWS support asks for). Its message never
 * contains a secret key or a session token.
 *
 * @since 0.1.0
 * @category errors
 */
export class S3Error extends Data.TaggedError("S3Error")<{
  readonly reason: Reason
  /** The S3 operation, e.g. `PutObject`. */
  readonly operation: string
  /** What happened, in words. */
  readonly detail: string
  /** The server's error code (`NoSuchKey`, `BucketNotEmpty`, ...), or a transport code. */
  readonly code?: string | undefined
  readonly status?: number | undefined
  readonly requestId?: string | undefined
  readonly bucket?: string | undefined
  readonly key?: string | undefined
}> {
  /**
   * @since 0.1.0
   */
  override get message(): string {
    const target = this.bucket === undefined
      ? ""
      : this.key === undefined
      ? ` s3://${this.bucket}`
      : ` s3://${this.bucket}/${this.key}`
    const facts: Array<string> = []
    if (this.status !== undefined) facts.push(`HTTP ${this.status}`)
    if (this.code !== undefined && this.code !== this.reason) facts.push(this.code)
    if (this.requestId !== undefined) facts.push(`request ${this.requestId}`)
    return `S3 ${this.operation}${target}: ${this.reason}${facts.length === 0 ? "" : ` (${facts.join(", ")})`}: ${this.detail}`
  }
}

/**
 * @since 0.1.0
 * @category refinements
 */
export const isS3Error = (u: unknown): u is S3Error => u instanceof S3Error
