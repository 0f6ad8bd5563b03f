/**
 * The `boto-config` source's fetch: the `[Credentials]` section of boto 2's config file
 * (`BOTO_CONFIG`, else `/etc/boto.cfg` then `~/.boto`), parsed as Python's `configparser` does.
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Credentials from "../Credentials.js"
import { CredentialsError, CredentialsUnavailable } from "../CredentialsError.js"
import * as Env from "./env.js"
import { readOptionalFile, stripBom } from "./files.js"
import { expandHome } from "./paths.js"
import * as PythonIni from "./pythonIni.js"

const source = "boto-config" satisfies Credentials.Source

/** Where boto looks when `BOTO_CONFIG` is not set, in this order. */
export const defaultPaths: ReadonlyArray<string> = ["/etc/boto.cfg", "~/.boto"]

/**
 * Looks through the candidate files. Missing files (and directories, as botocore) are skipped;
 * a file that does not parse is `MalformedFile`; `aws_access_key_id` without
 * `aws_secret_access_key` is `PartialCredentials`.
 */
export const fetchCredentials = (
  options: { readonly defaultPaths?: ReadonlyArray<string> | undefined }
): Effect.Effect<Credentials.Credentials, CredentialsUnavailable | CredentialsError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const home = yield* Env.homeDirectory
    const fromEnv = yield* Env.optional("BOTO_CONFIG")
    const candidates = Option.match(fromEnv, {
      onNone: () => options.defaultPaths ?? defaultPaths,
      onSome: (path) => [path]
    }).map((path) => expandHome(path, home))
    const looked: Array<string> = []
    for (const path of candidates) {
      // botocore checks `os.path.isfile` and moves on when the path is not a regular file; here,
      // as for every file, something other than a regular file is an error that says what it is.
      const text = yield* readOptionalFile(path, { source, what: "boto config file", kind: "config" })
      if (Option.isNone(text)) {
        looked.push(`${path} (missing)`)
        continue
      }
      const parsed = PythonIni.parse(stripBom(text.value))
      if (Either.isLeft(parsed)) {
        return yield* new CredentialsError({
          source,
          reason: "MalformedFile",
          path,
          line: parsed.left.line,
          detail: `cannot parse the boto config file: ${parsed.left.message}`
        })
      }
      const section = parsed.right.get("Credentials")
      const accessKey = section?.get("aws_access_key_id")
      if (section === undefined || accessKey === undefined) {
        looked.push(`${path} (no aws_access_key_id in [Credentials])`)
        continue
      }
      const secret = section.get("aws_secret_access_key")
      if (secret === undefined) {
        return yield* new CredentialsError({
          source,
          reason: "PartialCredentials",
          path,
          line: accessKey.line,
          detail: "[Credentials] has aws_access_key_id but no aws_secret_access_key"
        })
      }
      return Credentials.make({
        accessKeyId: accessKey.value,
        secretAccessKey: secret.value,
        source,
        provenance: `boto config ${path}:${accessKey.line}`
      })
    }
    return yield* new CredentialsUnavailable({
      source,
      reason: "NotConfigured",
 detail: `${Option.isSome(fromEnv) ? "BOTO_CONFIG names" : "looked at"} ${looked.join(", ")}`
    })
  })
