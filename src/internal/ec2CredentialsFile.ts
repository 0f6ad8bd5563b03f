/**
 * The `ec2-credentials-file` source's fetch: the `AWSAccessKeyId=...` / `AWSSecretKey=...` file
 * of the original EC2 command line tools, named by `AWS_CREDENTIAL_FILE`.
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Credentials from "../Credentials.js"
import { CredentialsError, CredentialsUnavailable } from "../CredentialsError.js"
import * as Env from "./env.js"
import { readOptionalFile, stripBom } from "./files.js"
import { expandHome } from "./paths.js"

const source = "ec2-credentials-file" satisfies Credentials.Source

/**
 * Parses `key=value` lines the lenient way the EC2 tools did: lines without `=` are ignored,
 * keys and values are trimmed, the last definition wins. Returns each key's value and line.
 */
export const parseKeyValues = (text: string): ReadonlyMap<string, { readonly value: string; readonly line: number }> => {
  const result = new Map<string, { value: string; line: number }>()
  stripBom(text).split(/\r?\n|\r/).forEach((line, index) => {
    const eq = line.indexOf("=")
    if (eq < 0) return
    result.set(line.slice(0, eq).trim(), { value: line.slice(eq + 1).trim(), line: index + 1 })
  })
  return result
}

/**
 * Reads the file `AWS_CREDENTIAL_FILE` names. Unset variable: unavailable. A file that is
 * missing or unreadable is an error (the variable promised one; botocore fails too). A file
 * without `AWSAccessKeyId`: unavailable. `AWSAccessKeyId` without `AWSSecretKey`:
 * `PartialCredentials`.
 */
export const fetchCredentials: Effect.Effect<
  Credentials.Credentials,
  CredentialsUnavailable | CredentialsError,
  FileSystem.FileSystem
> = Effect.gen(function*() {
  const variable = yield* Env.optional("AWS_CREDENTIAL_FILE")
  if (Option.isNone(variable)) {
    return yield* new CredentialsUnavailable({ source, reason: "NotConfigured",
 detail: "AWS_CREDENTIAL_FILE is not set" })
  }
  const path = expandHome(variable.value, yield* Env.homeDirectory)
  const text = yield* readOptionalFile(path, { source, what: "file named by AWS_CREDENTIAL_FILE", kind: "config" })
  if (Option.isNone(text)) {
    return yield* new CredentialsError({
      source,
      reason: "FileUnreadable",
      path,
      detail: "AWS_CREDENTIAL_FILE names a file that does not exist"
    })
  }
  const values = parseKeyValues(text.value)
  const accessKey = values.get("AWSAccessKeyId")
  if (accessKey === undefined || accessKey.value === "") {
    return yield* new CredentialsUnavailable({ source, reason: "NotConfigured",
 detail: `${path} has no AWSAccessKeyId` })
  }
  const secret = values.get("AWSSecretKey")
  if (secret === undefined || secret.value === "") {
    return yield* new CredentialsError({
      source,
      reason: "PartialCredentials",
      path,
      line: accessKey.line,
      detail: "AWSAccessKeyId is set but AWSSecretKey is missing"
    })
  }
  return Credentials.make({
    accessKeyId: accessKey.value,
    secretAccessKey: secret.value,
    source,
    provenance: `AWS_CREDENTIAL_FILE ${path}:${accessKey.line}`
  })
})
