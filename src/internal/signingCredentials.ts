/**
 * Which credentials signed a request, and what to tell a user when a service refuses them: one
 * sentence per rejection code, naming the access key (shortened), where the credentials came
 * from and, for `AccessDenied`, the identity. Independent of any one service: S3 uses it for its
 * answers, and the same table holds STS's spellings (`InvalidClientTokenId`, the
 * `...Exception` names of its SDK), and the JSON services' (DynamoDB's `UnrecognizedClientException`,
 * `InvalidSignatureException`), for `AwsClient`, an STS client or `explain --verify`.
 *
 * It also ties an SDK identity (what an SDK client's credentials provider hands to the signer)
 * back to the `Credentials` it was made from, and a failed request to the identity that signed
 * it, so that an error names the credentials the request was actually signed with: the signer's,
 * read from the request's own context, not whatever `AwsCredentials` serves by the time the error
 * is mapped (after a refresh, or the token retry, those differ).
 */
import * as Option from "effect/Option"
import type { Credentials, SigningCredentials } from "../Credentials.js"
import { bound, escapeControls, scrubMessage } from "./scrub.js"

export type { SigningCredentials } from "../Credentials.js"

/** The signing description of `credentials` (no secret: the key id, the source, the trail). */
export const fromCredentials = (credentials: Credentials): SigningCredentials => ({
  source: credentials.source,
  accessKeyId: credentials.accessKeyId,
  provenance: credentials.provenance,
  ...(Option.isSome(credentials.accountId) ? { accountId: credentials.accountId.value } : {}),
  ...(Option.isSome(credentials.arn) ? { arn: credentials.arn.value } : {})
})

/**
 * An access key id shortened for messages: its first four characters (`AKIA` long-term, `ASIA`
 * temporary) and its last four, `AKIA...WXYZ`. A key id is not a secret, but a user who pasted
 * a secret into the key id's place should not see it printed whole: under 12 characters, only
 * the last four are shown.
 */
export const maskAccessKeyId = (accessKeyId: string): string => {
  const id = escapeControls(accessKeyId)
  return id.length >= 12 ? `${id.slice(0, 4)}...${id.slice(-4)}` : `...${id.slice(-4)}`
}

/** `access key AKIA...WXYZ, from <provenance> (<source>)`; the source once if it is the whole trail. */
export const describe = (signing: SigningCredentials): string => {
  const trail = signing.provenance === signing.source ? signing.source : `${bound(signing.provenance, 300)} (${signing.source})`
  return `access key ${maskAccessKeyId(signing.accessKeyId)}, from ${trail}`
}

/** What the refused request was: `PutObject` on `s3://b/k`, `AssumeRole` on a role ARN. */
export interface RequestContext {
  readonly operation: string
  readonly resource?: string | undefined
}

/** `AccessDenied`'s subject: the identity's ARN, else its account, else the key's identity. */
const denied = (signing: SigningCredentials, context: RequestContext): string => {
  const who = signing.arn !== undefined
    ? `identity ${bound(escapeControls(signing.arn), 200)} (${describe(signing)})`
    : signing.accountId !== undefined
    ? `identity account ${bound(escapeControls(signing.accountId), 40)} (${describe(signing)})`
    : `the identity of ${describe(signing)},`
  const on = context.resource === undefined ? "" : ` on ${context.resource}`
  return `${who} is not allowed to ${context.operation}${on}`
}

const unknownKey = (signing: SigningCredentials) => `AWS does not know ${describe(signing)}`
const wrongSecret = (signing: SigningCredentials) => `the secret key does not match ${describe(signing)}`
const expired = (signing: SigningCredentials) => `the session token of ${describe(signing)}, has expired`
const invalidToken = (signing: SigningCredentials) => `the session token of ${describe(signing)}, is not valid`
const incomplete = (signing: SigningCredentials) =>
  `the request signed with ${describe(signing)}, is incomplete (are the credentials complete?)`
const regionDisabled = (signing: SigningCredentials) =>
  `STS is not activated in this region for the account of ${describe(signing)}`

/**
 * The codes that refuse the credentials, S3's and STS's spellings (the error code, and the
 * exception name the SDK gives STS's), and the sentence for each.
 */
const sentences: Readonly<Record<string, (signing: SigningCredentials, context: RequestContext) => string>> = {
  InvalidAccessKeyId: unknownKey,
  InvalidClientTokenId: unknownKey,
  UnrecognizedClientException: unknownKey,
  SignatureDoesNotMatch: wrongSecret,
  InvalidSignatureException: wrongSecret,
  ExpiredToken: expired,
  ExpiredTokenException: expired,
  TokenRefreshRequired: expired,
  InvalidToken: invalidToken,
  IncompleteSignature: incomplete,
  RegionDisabledException: regionDisabled,
  AccessDenied: denied,
  AccessDeniedException: denied
}

/** Whether `code` is an answer that refuses the credentials (see `rejection`). */
export const isRejection = (code: string): boolean => Object.hasOwn(sentences, code)

/**
 * The one sentence that says what to check, for an answer with `code` to a request signed with
 * `signing`; none for a code that is not about the credentials.
 */
export const rejection = (
  code: string,
  signing: SigningCredentials,
  context: RequestContext
): Option.Option<string> => {
  if (!isRejection(code)) return Option.none()
  // The parts came from outside (a profile name, a path, a key id): one last pass.
  return Option.some(scrubMessage(sentences[code]!(signing, context)))
}

// ---------------------------------------------------------------------------------------------
// SDK identities and the requests they signed
// ---------------------------------------------------------------------------------------------

/** Where an SDK identity keeps the `Credentials` it was made from (not enumerable: no JSON). */
const madeFrom: unique symbol = Symbol.for("effect-aws-credentials/SigningCredentials/madeFrom")

/** Where a failed request's error keeps the credentials that signed it. */
const signedBy: unique symbol = Symbol.for("effect-aws-credentials/SigningCredentials/signedBy")

/** Marks an SDK identity as made from `credentials`; returns it. */
export const markIdentity = <A extends object>(identity: A, credentials: Credentials): A => {
  Object.defineProperty(identity, madeFrom, { value: credentials, enumerable: false, configurable: true })
  return identity
}

/** The credentials an SDK identity was made from, if `markIdentity` marked it. */
export const identityCredentials = (identity: unknown): Credentials | undefined =>
  typeof identity === "object" && identity !== null ? (identity as { [madeFrom]?: Credentials })[madeFrom] : undefined

/** Records on a request's error which identity signed the request (nothing for a non-object). */
export const markError = (error: unknown, identity: unknown): void => {
  const credentials = identityCredentials(identity)
  if (credentials === undefined || typeof error !== "object" || error === null) return
  Object.defineProperty(error, signedBy, { value: fromCredentials(credentials), enumerable: false, configurable: true })
}

/** The credentials that signed the request `error` is about, if the client recorded them. */
export const ofError = (error: unknown): SigningCredentials | undefined =>
  typeof error === "object" && error !== null ? (error as { [signedBy]?: SigningCredentials })[signedBy] : undefined

/**
 * A middleware for an SDK client (step `initialize`, around everything): when a request fails,
 * it records on the error the identity its signer used, from the request's context (`@smithy`'s
 * `selectedHttpAuthScheme`, set once the identity is resolved). Credentials that could not be
 * had fail before there is one, and are left as they are.
 */
export const recordingMiddleware = (
  next: (args: unknown) => Promise<unknown>,
  context: Record<string, unknown>
) =>
async (args: unknown): Promise<unknown> => {
  try {
    return await next(args)
  } catch (error) {
    const smithy = context["__smithy_context"] as { selectedHttpAuthScheme?: { identity?: unknown } } | undefined
    markError(error, smithy?.selectedHttpAuthScheme?.identity)
    throw error
  }
}
