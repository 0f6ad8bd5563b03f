/**
 * The one reader of every file the sources read: the profile files, boto's config, the EC2
 * tools' credential file, token files and token caches.
 *
 * A missing file is not an error (it simply holds nothing). Anything else that is not a
 * readable regular file of a sane size is a `FileUnreadable` error naming the path and what is
 * wrong, decided before a byte is read: a FIFO (reading one blocks until a writer comes, which
 * would hang the chain and keep the process alive), a device (`/dev/zero` never ends), a socket,
 * a directory, a symbolic link to nothing or a loop of them, a file over the cap of its kind.
 * Text that is not UTF-8 is `MalformedFile` with the line of the first bad byte (botocore raises
 * `ConfigParseError`), never silently replaced.
 */
import type * as PlatformError from "@effect/platform/Error"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type { Source } from "../Credentials.js"
import { CredentialsError } from "../CredentialsError.js"

/** What a file holds, which sets how large it may be. */
export type FileKind = "config" | "token"

/**
 * The largest file read, by kind: profile and config files are generous (64 MiB: far beyond any
 * real `~/.aws/config`), tokens and caches small (1 MiB: a JWT or a cache entry is a few KiB).
 */
export const maxFileBytes: Readonly<Record<FileKind, number>> = {
  config: 64 * 1024 * 1024,
  token: 1024 * 1024
}

const typeNames: Readonly<Record<FileSystem.File.Type, string>> = {
  File: "a regular file",
  Directory: "a directory",
  SymbolicLink: "a symbolic link",
  BlockDevice: "a block device",
  CharacterDevice: "a character device",
  FIFO: "a FIFO (named pipe)",
  Socket: "a socket",
  Unknown: "not a regular file"
}

const mib = (bytes: number): string =>
  bytes >= 1024 * 1024 ? `${(bytes / (1024 * 1024)).toFixed(bytes % (1024 * 1024) === 0 ? 0 : 1)} MiB` : `${bytes} bytes`

const fatalUtf8 = new TextDecoder("utf-8", { fatal: true })

/** The 1-based line of the first byte that is not valid UTF-8, or `None` when all of it is. */
const firstInvalidLine = (bytes: Uint8Array): Option.Option<number> => {
  try {
    fatalUtf8.decode(bytes)
    return Option.none()
  } catch {
    // Decode line by line to find where (the input is capped, so this is bounded too).
    let line = 1
    let start = 0
    for (let i = 0; i <= bytes.length; i++) {
      if (i === bytes.length || bytes[i] === 0x0a) {
        try {
          fatalUtf8.decode(bytes.subarray(start, i))
        } catch {
          return Option.some(line)
        }
        line++
        start = i + 1
      }
    }
    return Option.some(line)
  }
}

const chunkBytes = 64 * 1024

/** At most `limit` bytes from the start of a file, in chunks. */
const readAtMost = (
  fs: FileSystem.FileSystem,
  path: string,
  limit: number
): Effect.Effect<Uint8Array, PlatformError.PlatformError> =>
  Effect.scoped(Effect.gen(function*() {
    const file = yield* fs.open(path, { flag: "r" })
    const chunks: Array<Uint8Array> = []
    let total = 0
    while (total < limit) {
      const chunk = yield* file.readAlloc(BigInt(Math.min(chunkBytes, limit - total)) as FileSystem.Size)
      if (Option.isNone(chunk) || chunk.value.length === 0) break
      chunks.push(chunk.value)
      total += chunk.value.length
    }
    return Buffer.concat(chunks)
  }))

/**
 * Reads a text file through the one policy above. `what` names it in messages ("web identity
 * token file"); `kind` sets the cap.
 */
export const readOptionalFile = (
  path: string,
  options: { readonly source?: Source | undefined; readonly what?: string | undefined; readonly kind: FileKind }
): Effect.Effect<Option.Option<string>, CredentialsError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const what = options.what ?? "file"
    const cap = maxFileBytes[options.kind]
    const unreadable = (detail: string, cause?: unknown) =>
      new CredentialsError({ source: options.source, reason: "FileUnreadable", path, detail, cause })

    const info = yield* fs.stat(path).pipe(
      Effect.map(Option.some),
      Effect.catchAll((error) =>
        error._tag === "SystemError" && error.reason === "NotFound"
          ? Effect.succeed(Option.none<FileSystem.File.Info>())
          : Effect.fail(unreadable(`cannot read the ${what}: ${error.message}`, error))
      )
    )
    if (Option.isNone(info)) {
      // Missing, unless a symbolic link is there and points at nothing: that is a mistake to report.
      const target = yield* fs.readLink(path).pipe(Effect.option)
      if (Option.isSome(target)) {
        return yield* Effect.fail(
          unreadable(`the ${what} is a symbolic link to ${target.value}, which does not exist`)
        )
      }
      return Option.none()
    }
    if (info.value.type !== "File") {
      return yield* Effect.fail(
        unreadable(`the ${what} is ${typeNames[info.value.type]}, not a regular file; it is not read`)
      )
    }
    const size = Number(info.value.size)
    if (size > cap) {
      return yield* Effect.fail(
        unreadable(`the ${what} is ${mib(size)}, over the ${mib(cap)} a ${options.kind} file may be; it is not read`)
      )
    }
    // A regular file that says it is empty may be a kernel pseudo-file (`/proc/self/pagemap`)
    // whose content has no end: read it in chunks, never past the cap. Any other size was
    // checked above, and a whole read stops there.
    const bytes = yield* (size === 0 ? readAtMost(fs, path, cap + 1) : fs.readFile(path)).pipe(
      Effect.mapError((error) =>
        error._tag === "SystemError" && error.reason === "NotFound"
          ? unreadable(`the ${what} disappeared while it was read`, error)
          : unreadable(`cannot read the ${what}: ${error.message}`, error)
      )
    )
    // A file that grew between the check and the read.
    if (bytes.length > cap) {
      return yield* Effect.fail(unreadable(
        size === 0
          ? `the ${what} does not say its size and holds more than ${mib(cap)}, the most a ${options.kind} file may be; it is not used`
          : `the ${what} grew past ${mib(cap)} while it was read; it is not used`
      ))
    }
    const invalid = firstInvalidLine(bytes)
    if (Option.isSome(invalid)) {
      return yield* Effect.fail(
        new CredentialsError({
          source: options.source,
          reason: "MalformedFile",
          path,
          line: invalid.value,
          detail: `the ${what} is not valid UTF-8 (line ${invalid.value})`
        })
      )
    }
    return Option.some(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("utf8"))
  })

/** Strips a UTF-8 byte order mark, which editors on Windows like to add. */
export const stripBom = (text: string): string => text.charCodeAt(0) === 0xfeff ? text.slice(1) : text
