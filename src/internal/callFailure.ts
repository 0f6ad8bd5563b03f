/**
 * What went wrong with a remote call, for every transport we use: the one table of network error
 * codes (with the words messages use for them) and the one classifier of what an AWS SDK client,
 * or the socket under it, threw. The metadata HTTP layer (`http.ts`) reads the table; SDK calls
 * (`sdkCall.ts`, STS, SSO, sign-in) classify with `classify` and retry what `isTransient` accepts.
 *
 * A classified failure keeps names, codes, the HTTP status and the request id only: never a
 * response body, a request or a token (the SDK's message is kept, scrubbed, only for requests the
 * SDK would not make, where it is our own configuration talking).
 */
import { scrub } from "./scrub.js"

/** Network error codes (system errors, undici's) and what they mean, in words for messages. */
export const networkCodes: Readonly<Record<string, string>> = {
  ECONNREFUSED: "connection refused",
  EHOSTUNREACH: "host unreachable",
  ENETUNREACH: "network unreachable",
  ENOTFOUND: "host not found",
  EAI_AGAIN: "host name lookup failed",
  ETIMEDOUT: "connection timed out",
  EADDRNOTAVAIL: "address not available",
  ECONNRESET: "connection reset",
  EPIPE: "connection closed",
  UND_ERR_SOCKET: "connection closed by the server",
  UND_ERR_CLOSED: "connection closed",
  UND_ERR_CONNECT_TIMEOUT: "connection timed out",
  UND_ERR_HEADERS_TIMEOUT: "no response headers in time"
}

/** The codes of a connection that was made and then closed on us (rather than refused). */
export const droppedCodes: ReadonlySet<string> = new Set(["ECONNRESET", "EPIPE", "UND_ERR_SOCKET", "UND_ERR_CLOSED"])

/** The first code of `networkCodes` in a chain of causes (fetch wraps them: `TypeError: fetch failed`). */
export const networkCode = (cause: unknown): string | undefined => {
  let current: unknown = cause
  for (let depth = 0; depth < 6 && typeof current === "object" && current !== null; depth++) {
    const code = (current as { code?: unknown }).code
    if (typeof code === "string" && code in networkCodes) return code
    current = (current as { cause?: unknown }).cause
  }
  return undefined
}

/**
 * Whether an error code is the network's: system errors (`ECONNRESET`, `EAI_AGAIN`, ...) and
 * undici's are; Node's own `ERR_*` codes (`ERR_INVALID_CHAR`: a header value a token made
 * impossible) are ours, and deterministic.
 */
export const isNetworkCode = (code: string): boolean =>
  !code.startsWith("ERR_") && (code in networkCodes || /^E[A-Z_]+$/.test(code) || code.startsWith("UND_ERR"))

/** Why a call failed, without anything the server said beyond its error name and code. */
export type CallFailure =
  | { readonly _tag: "Timeout" }
  | { readonly _tag: "Network"; readonly code: string }
  | {
    readonly _tag: "Service"
    /** The exception name (`UnauthorizedException`, ...), or `HTTP 503` for an unreadable 5xx / 429. */
    readonly name: string
    readonly status: number | undefined
    /** The OAuth-style `error` member some services return (`TOKEN_EXPIRED`, `invalid_grant`). */
    readonly errorCode: string | undefined
    /** The service's request id (`$metadata.requestId`), for support cases. */
    readonly requestId: string | undefined
  }
  | { readonly _tag: "Malformed"; readonly status: number | undefined }
  /**
   * The SDK would not make the request (an `EndpointError` for settings that do not combine, a
   * value a header cannot carry): nothing was sent, and another attempt would fail the same way.
   */
  | { readonly _tag: "Local"; readonly name: string; readonly message: string }

/**
 * The error codes that mean "slow down", for every service: botocore's list (its retry handler's
 * throttling errors), S3's own (`SlowDown`, `ServiceUnavailable`, `TooManyRequests`) and the
 * exception names the SDKs give them. One table: the classifier, S3 and `AwsClient` all ask it.
 */
const throttlingCodes: ReadonlySet<string> = new Set([
  "Throttling",
  "ThrottlingException",
  "ThrottledException",
  "RequestThrottledException",
  "RequestThrottled",
  "TooManyRequests",
  "TooManyRequestsException",
  "TooManyRequestsError",
  "ProvisionedThroughputExceededException",
  "TransactionInProgressException",
  "RequestLimitExceeded",
  "BandwidthLimitExceeded",
  "LimitExceededException",
  "PriorRequestNotComplete",
  "EC2ThrottledException",
  "SlowDown",
  "SlowDownException",
  "ServiceUnavailable"
])

/** Whether a service's error code means "slow down" (see the table above). */
export const isThrottlingCode = (code: string): boolean => throttlingCodes.has(code)

const record = (error: unknown): Record<string, unknown> =>
  typeof error === "object" && error !== null ? error as Record<string, unknown> : {}

/** Classifies what an SDK client's `send` (or its socket) threw. Reads names and codes only. */
export const classify = (error: unknown): CallFailure => {
  const e = record(error)
  const metadata = record(e.$metadata)
  const status = typeof metadata.httpStatusCode === "number" ? metadata.httpStatusCode : undefined
  const requestId = typeof metadata.requestId === "string" ? metadata.requestId : undefined
  const name = typeof e.name === "string" ? e.name : "Error"
  if (name === "AbortError") return { _tag: "Timeout" }
  if (typeof e.$fault === "string") {
    return {
      _tag: "Service",
      name,
      status,
      errorCode: typeof e.error === "string" ? e.error : undefined,
      requestId
    }
  }
  if (status !== undefined) {
    // The SDK could not read what the server sent (a SyntaxError on an HTML error page or on
    // truncated JSON). A 5xx or a 429 is the server's trouble and worth a retry; anything else is
    // garbage.
    return status >= 500 || status === 429
      ? { _tag: "Service", name: `HTTP ${status}`, status, errorCode: undefined, requestId }
      : { _tag: "Malformed", status }
  }
  const code = typeof e.code === "string" ? e.code : undefined
  if (code !== undefined && isNetworkCode(code)) return { _tag: "Network", code }
  if (name === "TimeoutError" || name === "RequestTimeout") return { _tag: "Timeout" }
  return { _tag: "Local", name, message: scrub(typeof e.message === "string" ? e.message : "", { max: 200 }) }
}

/** The service asked us to slow down: a throttling exception name, or HTTP 429. */
export const isThrottled = (failure: CallFailure): boolean =>
  failure._tag === "Service" && (throttlingCodes.has(failure.name) || failure.status === 429)

/** What another attempt may cure: timeouts, the network, throttling and 5xx. */
export const isTransient = (failure: CallFailure): boolean => {
  switch (failure._tag) {
    case "Timeout":
    case "Network":
      return true
    case "Malformed":
    case "Local":
      return false
    case "Service":
      return isThrottled(failure) || (failure.status !== undefined && failure.status >= 500)
  }
}
