/**
 * The platform services `CredentialChain.layerNode` and `AwsSession.layerNode` give their sources:
 * `@effect/platform-node`'s `FileSystem` and `CommandExecutor`, under the platform's own tags.
 *
 * Four file-system methods are ours, on `node:fs`: `access`, `stat`, `readFile` and `readLink`,
 * the reads that decide whether a source's file is there. They keep the error reasons the
 * sources rely on, which the Node implementation maps otherwise: a path through a regular file
 * (`ENOTDIR`) is `NotFound`, so a file is missing as botocore sees it, not unreadable; `EPERM` is
 * `PermissionDenied`. `FileSystem.make` derives `exists` and `readFileString` from them.
 * Everything else (writing caches, running a credential process) is the Node implementation.
 * Errors are the platform's own `SystemError`.
 *
 * Start-up: these are the modules the package loads anyway (the process runner needs
 * `Command`); building the layers makes a record of functions and opens nothing, and Node's
 * executor is only built when a process is run.
 *
 * Everything is imported statically: a dynamic `import()` of a module that shares code with the
 * rest of the package makes bundlers (esbuild) wrap the whole shared graph in lazy initialisers,
 * which then cannot be tree-shaken (see the README's "Bundling").
 */
import * as CommandExecutor from "@effect/platform/CommandExecutor"
import * as PlatformError from "@effect/platform/Error"
import * as FileSystem from "@effect/platform/FileSystem"
import * as NodeCommandExecutor from "@effect/platform-node/NodeCommandExecutor"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import * as fs from "node:fs"

const reasonOf = (code: string | undefined): PlatformError.SystemErrorReason => {
  switch (code) {
    case "ENOENT":
    case "ENOTDIR":
      return "NotFound"
    case "EACCES":
    case "EPERM":
      return "PermissionDenied"
    case "EEXIST":
      return "AlreadyExists"
    case "EISDIR":
      return "BadResource"
    case "ELOOP":
      return "BadResource"
    case "EBUSY":
      return "Busy"
    case "ETIMEDOUT":
      return "TimedOut"
    case "EAGAIN":
      return "WouldBlock"
    default:
      return "Unknown"
  }
}

/** A string field of what `node:fs` threw (an `ErrnoException`), read without trusting its type. */
const field = (error: unknown, name: "code" | "syscall" | "message"): string | undefined =>
  Predicate.hasProperty(error, name) && typeof error[name] === "string" ? error[name] : undefined

const systemError = (method: string, path: string, error: unknown): PlatformError.SystemError => {
  const syscall = field(error, "syscall")
  return new PlatformError.SystemError({
    module: "FileSystem",
    method,
    reason: reasonOf(field(error, "code")),
    pathOrDescriptor: path,
    ...(syscall === undefined ? {} : { syscall }),
    description: field(error, "message") ?? String(error),
    cause: error
    // Every field is built above from our own mapping, so the schema check is skipped: it cost
    // more than the failed system call, and a missing profile file fails two of them per session.
  }, true)
}

const attempt = <A>(method: string, path: string, run: () => Promise<A>): Effect.Effect<A, PlatformError.PlatformError> =>
  Effect.tryPromise({ try: run, catch: (error) => systemError(method, path, error) })

const typeOf = (stats: fs.Stats): FileSystem.File.Type =>
  stats.isFile()
    ? "File"
    : stats.isDirectory()
    ? "Directory"
    : stats.isSymbolicLink()
    ? "SymbolicLink"
    : stats.isBlockDevice()
    ? "BlockDevice"
    : stats.isCharacterDevice()
    ? "CharacterDevice"
    : stats.isFIFO()
    ? "FIFO"
    : stats.isSocket()
    ? "Socket"
    : "Unknown"

const infoOf = (stats: fs.Stats): FileSystem.File.Info => ({
  type: typeOf(stats),
  mtime: Option.some(stats.mtime),
  atime: Option.some(stats.atime),
  birthtime: Option.some(stats.birthtime),
  dev: stats.dev,
  ino: Option.some(stats.ino),
  mode: stats.mode,
  nlink: Option.some(stats.nlink),
  uid: Option.some(stats.uid),
  gid: Option.some(stats.gid),
  rdev: Option.some(stats.rdev),
  size: FileSystem.Size(stats.size),
  blksize: Option.some(FileSystem.Size(stats.blksize)),
  blocks: Option.some(stats.blocks)
})

const accessMode = (options: FileSystem.AccessFileOptions | undefined): number =>
  fs.constants.F_OK | (options?.readable ? fs.constants.R_OK : 0) | (options?.writable ? fs.constants.W_OK : 0)

/** Node's file system with the four reads above on `node:fs`. */
const make: Effect.Effect<FileSystem.FileSystem, never, FileSystem.FileSystem> = Effect.map(
  FileSystem.FileSystem,
  (node) =>
    FileSystem.make({
      ...node,
      access: (path, options) => attempt("access", path, () => fs.promises.access(path, accessMode(options))),
      stat: (path) => Effect.map(attempt("stat", path, () => fs.promises.stat(path)), infoOf),
      readFile: (path) => attempt("readFile", path, () => fs.promises.readFile(path).then((buffer) => new Uint8Array(buffer))),
      readLink: (path) => attempt("readLink", path, () => fs.promises.readlink(path))
    })
)

/** Node's file system (see above). */
export const fileSystemLayer: Layer.Layer<FileSystem.FileSystem> = Layer.effect(FileSystem.FileSystem, make).pipe(
  Layer.provide(NodeFileSystem.layer)
)

/**
 * Node's process runner, built by the platform's constructor. Node's own executor is built when a
 * process is run (a record of functions, cheap), not with the layer: most chains never run one,
 * and start-up should not pay for it.
 */
const makeCommandExecutor = (): CommandExecutor.CommandExecutor => {
  const node = Effect.provide(
    CommandExecutor.CommandExecutor,
    NodeCommandExecutor.layer.pipe(Layer.provide(NodeFileSystem.layer))
  )
  return CommandExecutor.makeExecutor((command) => Effect.flatMap(node, (executor) => executor.start(command)))
}

/**
 * Node's file system and process runner (see above) as a context, for `CredentialChain.layerNode`,
 * which builds everything in one layer: a merge of two layers forks scopes and fibers to build
 * them side by side, which costs more at start-up than the services themselves.
 */
export const platformContext: Effect.Effect<Context.Context<FileSystem.FileSystem | CommandExecutor.CommandExecutor>> =
  Effect.map(
    Effect.provide(make, NodeFileSystem.layer),
    (fileSystem) =>
      Context.make(FileSystem.FileSystem, fileSystem).pipe(
        Context.add(CommandExecutor.CommandExecutor, makeCommandExecutor())
      )
  )

/** The same services as a layer. */
export const platformLayer: Layer.Layer<FileSystem.FileSystem | CommandExecutor.CommandExecutor> = Layer
  .effectContext(platformContext)
