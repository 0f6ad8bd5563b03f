/**
 * Reading the small text files credentials live in. A missing file is not an error (it simply
 * holds nothing); a file that exists but cannot be read, or a directory where a file should
 * be, is a `FileUnreadable` error naming the path.
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type { Source } from "../Credentials.js"
import { CredentialsError } from "../CredentialsError.js"
import { FileSystemTag } from "./platform.js"

export const readOptionalFile = (
  path: string,
  options?: { readonly source?: Source | undefined; readonly what?: string | undefined }
): Effect.Effect<Option.Option<string>, CredentialsError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const fs = yield* FileSystemTag
    const what = options?.what ?? "file"
    const unreadable = (detail: string, cause?: unknown) =>
      new CredentialsError({ source: options?.source, reason: "FileUnreadable", path, detail, cause })
    // `exists` first: a missing file is the common case, and answering it needs no error value.
    if (!(yield* fs.exists(path).pipe(Effect.orElseSucceed(() => true)))) return Option.none()
    const info = yield* fs.stat(path).pipe(
      Effect.map(Option.some),
      Effect.catchAll((error) =>
        error._tag === "SystemError" && error.reason === "NotFound"
          ? Effect.succeed(Option.none())
          : Effect.fail(unreadable(`cannot read the ${what}: ${error.message}`, error))
      )
    )
    if (Option.isNone(info)) return Option.none()
    if (info.value.type === "Directory") {
      return yield* Effect.fail(unreadable(`the ${what} is a directory, not a file`))
    }
    const text = yield* fs.readFileString(path, "utf-8").pipe(
      Effect.mapError((error) => unreadable(`cannot read the ${what}: ${error.message}`, error))
    )
    return Option.some(text)
  })

/** Strips a UTF-8 byte order mark, which editors on Windows like to add. */
export const stripBom = (text: string): string => text.charCodeAt(0) === 0xfeff ? text.slice(1) : text
