/**
 * The credentials document that the instance metadata service and the container endpoints
 * (ECS, EKS Pod Identity) return, decoded with `Schema` without ever echoing a value:
 *
 * `{"Code": "Success", "AccessKeyId": ..., "SecretAccessKey": ..., "Token": ..., "Expiration": ..., "AccountId"?: ...}`
 *
 * `Code`, when present, must be `Success` (the services put an error code and a `Message` there
 * instead of credentials). Instance metadata always sends it, so that source requires it
 * (`require.code`); the container endpoints send no `Code`.
 */
import type * as DateTime from "effect/DateTime"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { scrub } from "./scrub.js"
import { parseTimestamp } from "./time.js"
import { decodeJson } from "./untrusted.js"

const NonEmpty = Schema.String.pipe(Schema.minLength(1))

const Status = Schema.Struct({
  Code: Schema.optional(Schema.NullOr(Schema.String)),
  Message: Schema.optional(Schema.NullOr(Schema.String))
})

const Document = Schema.Struct({
  AccessKeyId: NonEmpty,
  SecretAccessKey: NonEmpty,
  Token: Schema.optional(Schema.NullOr(Schema.String)),
  Expiration: Schema.optional(Schema.NullOr(Schema.String)),
  AccountId: Schema.optional(Schema.NullOr(Schema.String))
})

const decodeStatus = decodeJson(Status)
const decodeDocument = decodeJson(Document)

export interface Decoded {
  readonly accessKeyId: string
  readonly secretAccessKey: string
  readonly token: string | undefined
  readonly expiration: DateTime.Utc | undefined
  readonly accountId: string | undefined
}

export type Problem =
  | { readonly _tag: "InvalidJson" }
  | { readonly _tag: "InvalidShape"; readonly description: string }
  | { readonly _tag: "NotSuccess"; readonly code: string; readonly message: string | undefined }
  | { readonly _tag: "BadExpiration" }

const present = (value: string | null | undefined): value is string =>
  value !== undefined && value !== null && value !== ""

/**
 * The fields a document must have besides the key pair. Instance metadata always sends `Code`,
 * `Token` and `Expiration`; the container endpoints send no `Code`, and a custom one may send
 * neither `Token` nor `Expiration`.
 */
export interface Required {
  /** `Code` must be present (and, as always when present, `Success`). Default `false`. */
  readonly code?: boolean | undefined
  readonly token: boolean
  readonly expiration: boolean
}

/** Decodes a credentials document, checking the fields `require` names. */
export const decode = (text: string, require: Required): Either.Either<Decoded, Problem> => {
  const status = decodeStatus(text)
  if (Either.isLeft(status)) return Either.left(status.left)
  const code = status.right.Code
  if (present(code) && code !== "Success") {
    return Either.left({
      _tag: "NotSuccess",
      code: scrub(code, { max: 100 }),
      message: present(status.right.Message) ? scrub(status.right.Message, { max: 300 }) : undefined
    })
  }
  const codeMissing = require.code === true && !present(code) ? ["Code is missing"] : []
  const document = decodeDocument(text)
  if (Either.isLeft(document)) {
    const problem = document.left
    return Either.left(
      problem._tag === "InvalidShape" && codeMissing.length > 0
        ? { _tag: "InvalidShape", description: [...codeMissing, problem.description].join("; ") }
        : problem
    )
  }
  const { AccessKeyId, AccountId, Expiration, SecretAccessKey, Token } = document.right
  const missing = [
    ...codeMissing,
    ...(require.token && !present(Token) ? ["Token is missing"] : []),
    ...(require.expiration && !present(Expiration) ? ["Expiration is missing"] : [])
  ]
  if (missing.length > 0) return Either.left({ _tag: "InvalidShape", description: missing.join("; ") })
  let expiration: DateTime.Utc | undefined
  if (present(Expiration)) {
    const parsed = parseTimestamp(Expiration)
    if (Option.isNone(parsed)) return Either.left({ _tag: "BadExpiration" })
    expiration = parsed.value
  }
  return Either.right({
    accessKeyId: AccessKeyId,
    secretAccessKey: SecretAccessKey,
    token: present(Token) ? Token : undefined,
    expiration,
    accountId: present(AccountId) ? AccountId : undefined
  })
}

/** Words for a problem, naming the document (e.g. `the role credentials from http://...`). */
export const describeProblem = (what: string, problem: Problem): string => {
  switch (problem._tag) {
    case "InvalidJson":
      return `${what} are not valid JSON (the body is not shown, it may hold secrets)`
    case "InvalidShape":
      return `${what} do not have the expected fields: ${problem.description}`
    case "NotSuccess":
      return `${what} came with Code ${problem.code}${problem.message === undefined ? "" : `: ${problem.message}`}`
    case "BadExpiration":
      return `${what} have an Expiration that is not an ISO 8601 timestamp`
  }
}
