/**
 * Decoding input we do not control (process output, metadata and service responses, cache
 * files) without ever echoing it. Node's `JSON.parse` errors quote the text and Schema's
 * messages quote the offending values; either could be a secret, so both are replaced by
 * messages that name only the field and the kind of problem.
 */
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"

const describe = (tag: ParseResult.ParseIssue["_tag"]): string => {
  switch (tag) {
    case "Missing":
      return "is missing"
    case "Unexpected":
      return "is not expected"
    case "Forbidden":
      return "cannot be checked"
    default:
      return "has an invalid value"
  }
}

/** A value-free description of what failed, e.g. `Version has an invalid value; AccessKeyId is missing`. */
export const describeParseError = (error: ParseResult.ParseError): string => {
  const issues = ParseResult.ArrayFormatter.formatErrorSync(error)
  if (issues.length === 0) return "does not have the expected shape"
  const seen = new Set<string>()
  for (const issue of issues) {
    const path = issue.path.length === 0 ? "the document" : issue.path.map(String).join(".")
    seen.add(`${path} ${describe(issue._tag)}`)
  }
  return [...seen].slice(0, 8).join("; ")
}

export type DecodeFailure =
  | { readonly _tag: "InvalidJson" }
  | { readonly _tag: "InvalidShape"; readonly description: string }

/** The deepest nesting of arrays and objects accepted; no document we read comes close. */
export const maxDepth = 64

/** Whether `value` nests deeper than `maxDepth` (checked without recursion). */
export const tooDeep = (value: unknown): boolean => {
  const stack: Array<readonly [unknown, number]> = [[value, 1]]
  while (stack.length > 0) {
    const [current, depth] = stack.pop()!
    if (typeof current !== "object" || current === null) continue
    if (depth > maxDepth) return true
    for (const child of Array.isArray(current) ? current : Object.values(current)) stack.push([child, depth + 1])
  }
  return false
}

/**
 * Decodes a value already parsed by someone else (an SDK's answer) with `schema`; a failure is a
 * value-free description of what is wrong.
 */
export const decodeValue = <A, I>(schema: Schema.Schema<A, I, never>) => {
  const decode = Schema.decodeUnknownEither(schema, { errors: "all", onExcessProperty: "ignore" })
  return (value: unknown): Either.Either<A, string> =>
    tooDeep(value)
      ? Either.left(`the answer is nested more than ${maxDepth} levels deep`)
      : Either.mapLeft(decode(value), describeParseError)
}

/**
 * Parses JSON text and decodes it with `schema`; failures carry no input. A document nested
 * deeper than `maxDepth` is refused before decoding (a decoder's recursion would otherwise run
 * out of stack on `[[[[...]]]]`).
 */
export const decodeJson = <A, I>(schema: Schema.Schema<A, I, never>) => {
  const decode = Schema.decodeUnknownEither(schema, { errors: "all", onExcessProperty: "ignore" })
  return (text: string): Either.Either<A, DecodeFailure> => {
    let json: unknown
    try {
      json = JSON.parse(text)
    } catch {
      return Either.left({ _tag: "InvalidJson" })
    }
    if (tooDeep(json)) {
      return Either.left({ _tag: "InvalidShape", description: `the document is nested more than ${maxDepth} levels deep` })
    }
    return Either.mapLeft(decode(json), (error) => ({ _tag: "InvalidShape", description: describeParseError(error) }))
  }
}
