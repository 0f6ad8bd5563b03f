/**
 * The platform services `CredentialChain.layerNode` and `AwsSession.layerNode` give their sources.
 *
 * `exists`, `stat`, `readFile`, `readFileString` and `readLink` (all the sources use on their usual paths) run on
 * `node:fs` directly, with no layer to build; everything else (writing caches, running a
 * credential process) goes to `@effect/platform-node`'s implementations, built on first use.
 * Errors are the platform's own `SystemError`.
 *
 * These services never leave `layerNode` (it provides only `AwsCredentials` and `AwsSession`),
 * and the sources use nothing here that returns a `Stream` or a `Sink`: those die with a message
 * saying so rather than pretend.
 *
 * Everything is imported statically: a dynamic `import()` of a module that shares code with the
 * rest of the package makes bundlers (esbuild) wrap the whole shared graph in lazy initialisers,
 * which then cannot be tree-shaken (see the README's "Bundling").
 */
import type * as CommandExecutor from "@effect/platform/CommandExecutor"
import * as PlatformError from "@effect/platform/Error"
import type * as FileSystem from "@effect/platform/FileSystem"
import * as NodeCommandExecutor from "@effect/platform-node/NodeCommandExecutor"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as fs from "node:fs"
import { CommandExecutorTag, FileSystemTag } from "./platform.js"

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

const systemError = (method: string, path: string, error: unknown): Effect.Effect<never, PlatformError.PlatformError> =>
  Effect.suspend(() => {
    const errno = error as NodeJS.ErrnoException
    return Effect.fail(
      new PlatformError.SystemError({
        module: "FileSystem",
        method,
        reason: reasonOf(errno.code),
        pathOrDescriptor: path,
        ...(errno.syscall === undefined ? {} : { syscall: errno.syscall }),
        description: errno.message,
        cause: error
      })
    )
  })

const attempt = <A>(method: string, path: string, run: () => Promise<A>): Effect.Effect<A, PlatformError.PlatformError> =>
  Effect.flatMap(
    Effect.promise(() => run().then((value) => ({ ok: true as const, value }), (error: unknown) => ({ ok: false as const, error }))),
    (result) => result.ok ? Effect.succeed(result.value) : systemError(method, path, result.error)
  )

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
  size: BigInt(stats.size) as FileSystem.Size,
  blksize: Option.some(BigInt(stats.blksize) as FileSystem.Size),
  blocks: Option.some(stats.blocks)
})

// Building these layers is cheap (a record of functions over `node:fs` / `child_process`), so the
// full implementations are built at each delegated call rather than cached in module state.
const full: Effect.Effect<FileSystem.FileSystem> = Effect.provide(FileSystemTag, NodeFileSystem.layer)

type EffectMethods = {
  [K in keyof FileSystem.FileSystem]: FileSystem.FileSystem[K] extends (...args: Array<any>) => Effect.Effect<any, any, any>
    ? K
    : never
}[keyof FileSystem.FileSystem]

const delegate = <K extends EffectMethods>(name: K): FileSystem.FileSystem[K] =>
  ((...args: Array<unknown>) =>
    Effect.flatMap(full, (fileSystem) => (fileSystem[name] as (...a: Array<unknown>) => Effect.Effect<unknown, unknown, unknown>)(...args))) as unknown as FileSystem.FileSystem[K]

const unsupported = (name: string) => (): never => {
  throw new Error(`effect-aws-credentials: FileSystem.${name} is not available inside CredentialChain.layerNode`)
}

const fileSystem: FileSystem.FileSystem = {
  exists: (path) =>
    Effect.flatMap(
      Effect.promise(() => fs.promises.stat(path).then(() => undefined, (error: unknown) => error)),
      (error) => {
        if (error === undefined) return Effect.succeed(true)
        const code = (error as NodeJS.ErrnoException).code
        return code === "ENOENT" || code === "ENOTDIR" ? Effect.succeed(false) : systemError("exists", path, error)
      }
    ),
  stat: (path) => Effect.map(attempt("stat", path, () => fs.promises.stat(path)), infoOf),
  readFileString: (path, encoding) =>
    attempt("readFileString", path, () => fs.promises.readFile(path, { encoding: (encoding ?? "utf-8") as BufferEncoding })),
  readFile: (path) => attempt("readFile", path, () => fs.promises.readFile(path).then((buffer) => new Uint8Array(buffer))),
  readLink: (path) => attempt("readLink", path, () => fs.promises.readlink(path)),
  access: delegate("access"),
  copy: delegate("copy"),
  copyFile: delegate("copyFile"),
  chmod: delegate("chmod"),
  chown: delegate("chown"),
  link: delegate("link"),
  makeDirectory: delegate("makeDirectory"),
  makeTempDirectory: delegate("makeTempDirectory"),
  makeTempDirectoryScoped: delegate("makeTempDirectoryScoped"),
  makeTempFile: delegate("makeTempFile"),
  makeTempFileScoped: delegate("makeTempFileScoped"),
  open: delegate("open"),
  readDirectory: delegate("readDirectory"),
  realPath: delegate("realPath"),
  remove: delegate("remove"),
  rename: delegate("rename"),
  symlink: delegate("symlink"),
  truncate: delegate("truncate"),
  utimes: delegate("utimes"),
  writeFile: delegate("writeFile"),
  writeFileString: delegate("writeFileString"),
  sink: unsupported("sink"),
  stream: unsupported("stream"),
  watch: unsupported("watch")
} as FileSystem.FileSystem

const executor: Effect.Effect<CommandExecutor.CommandExecutor> = Effect.provide(
  CommandExecutorTag,
  NodeCommandExecutor.layer.pipe(Layer.provide(NodeFileSystem.layer))
)

const commandExecutor = {
  // The platform's type id, by its registered symbol.
  [Symbol.for("@effect/platform/CommandExecutor")]: Symbol.for("@effect/platform/CommandExecutor"),
  exitCode: (command: Parameters<CommandExecutor.CommandExecutor["exitCode"]>[0]) =>
    Effect.flatMap(executor, (e) => e.exitCode(command)),
  start: (command: Parameters<CommandExecutor.CommandExecutor["start"]>[0]) =>
    Effect.flatMap(executor, (e) => e.start(command)),
  string: (command: Parameters<CommandExecutor.CommandExecutor["string"]>[0], encoding?: string) =>
    Effect.flatMap(executor, (e) => e.string(command, encoding)),
  lines: (command: Parameters<CommandExecutor.CommandExecutor["lines"]>[0], encoding?: string) =>
    Effect.flatMap(executor, (e) => e.lines(command, encoding)),
  stream: unsupported("CommandExecutor.stream"),
  streamLines: unsupported("CommandExecutor.streamLines")
} as unknown as CommandExecutor.CommandExecutor

/** Node's file system, light (see above). */
export const fileSystemLayer: Layer.Layer<FileSystem.FileSystem> = Layer.succeed(FileSystemTag, fileSystem)

/** Node's file system and process runner, light (see above). */
export const platformLayer: Layer.Layer<FileSystem.FileSystem | CommandExecutor.CommandExecutor> = Layer.merge(
  fileSystemLayer,
  Layer.succeed(CommandExecutorTag, commandExecutor)
)
