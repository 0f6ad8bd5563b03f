/**
 * The one error of the S3 service, `S3Error`, and its reasons. A module of its own so that the
 * service's backends and its assembly can build it without importing `S3` back; `S3` re-exports
 * it.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import type { SigningCredentials } from "./Credentials.js"

// Errors
// ---------------------------------------------------------------------------------------------

/**
 * What went wrong, as a program would want to branch on it. A closed union: every condition
 * the service knows has its own reason; a server's code we have no reason for is `ServiceError`
 * (and `code` has it).
 *
 * The server said no:
 * - `NoSuchKey`, `NoSuchBucket`: the object or bucket does not exist.
 * - `AccessDenied`: the credentials are valid but not allowed to do this.
 * - `InvalidAccessKeyId`, `SignatureDoesNotMatch`: the access key is unknown, or its secret is
 *   wrong.
 * - `ExpiredToken`, `TokenRefreshRequired`: the session token has expired (after the one retry
 *   with fresh credentials); `InvalidToken`: the session token is not valid.
 * - `PreconditionFailed`: an `ifMatch` / `ifNoneMatch` condition did not hold.
 * - `BucketAlreadyOwnedByYou`: `createBucket` of a bucket you already own (outside us-east-1,
 *   where S3 answers success instead).
 * - `BucketNotEmpty`: `deleteBucket` of a bucket that still holds objects or uploads.
 * - `InvalidRange`: a byte range that starts past the object's end (HTTP 416).
 * - `EntityTooSmall`: a multipart part but the last is under 5 MiB.
 * - `NotImplemented`: the server (or the in-memory layer) does not do this.
 * - `Throttled`: `SlowDown`, `503` and the like, after the retries.
 * - `ServiceError`: any other answer of the server; `code` has its error code.
 *
 * The request did not get an answer:
 * - `Unreachable`: the connection was refused, reset or closed, or the host not found.
 * - `Timeout`: no answer (or, for a body, no bytes) within the configured time.
 * - `InvalidResponse`: the answer lacks what the operation needs (an upload id, ...).
 *
 * The program asked for something that cannot be done:
 * - `InvalidArgument`: an argument out of range (a byte range, `expiresIn`, `partSize`, a
 *   body shorter or longer than its `contentLength`, an empty key); also the server's code.
 * - `InvalidConfiguration`: the layer's options or settings do not work (an endpoint that is
 *   not an http(s) URL, settings the SDK will not combine, a URL it could not sign).
 * - `TooLarge`: `getObjectText` / `getObjectBytes` of an object over `maxBytes`.
 * - `BodyConsumed`: a `getObject` body read a second time (it streams once).
 * - `BodyReleased`: a `getObject` body read after the scope it was got in closed.
 *
 * Credentials that cannot be had are not an `S3Error`: the operation fails with the
 * `CredentialsError` of `AwsCredentials.get` itself.
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
  | "TokenRefreshRequired"
  | "InvalidToken"
  | "PreconditionFailed"
  | "BucketAlreadyOwnedByYou"
  | "BucketNotEmpty"
  | "InvalidRange"
  | "EntityTooSmall"
  | "NotImplemented"
  | "Throttled"
  | "ServiceError"
  | "Unreachable"
  | "Timeout"
  | "InvalidResponse"
  | "InvalidArgument"
  | "InvalidConfiguration"
  | "TooLarge"
  | "BodyConsumed"
  | "BodyReleased"

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
  /**
   * For an answer that rejects the credentials (`InvalidAccessKeyId`, `SignatureDoesNotMatch`,
   * `ExpiredToken`, `TokenRefreshRequired`, `InvalidToken`, `AccessDenied`): the credentials the
   * request was signed with, without their secret, so that the message can say which key from
   * where was refused.
   */
  readonly signedWith?: SigningCredentials | undefined
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
