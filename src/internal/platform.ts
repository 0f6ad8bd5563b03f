/**
 * The platform services the sources use, reached without loading their modules at import
 * time. `@effect/platform/FileSystem` pulls in `Schema`, `Stream` and the platform errors (a few
 * hundred milliseconds of module loading on a cold start), which a program that only reads
 * environment credentials should not pay for. A `Context` tag is identified by its key, so a tag
 * made here with the platform's key finds the same service; `test/Platform.test.ts` checks that
 * the keys still match the pinned platform version.
 *
 * The Node implementations are imported on demand, when a layer that needs them is built, and
 * the heavy parts of them only when a source actually needs them.
 */
import type * as CommandExecutor from "@effect/platform/CommandExecutor"
import type * as FileSystem from "@effect/platform/FileSystem"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"

export const FileSystemTag: Context.Tag<FileSystem.FileSystem, FileSystem.FileSystem> = Context.GenericTag<
  FileSystem.FileSystem
>("@effect/platform/FileSystem")

export const CommandExecutorTag: Context.Tag<CommandExecutor.CommandExecutor, CommandExecutor.CommandExecutor> =
  Context.GenericTag<CommandExecutor.CommandExecutor>("@effect/platform/CommandExecutor")

/**
 * Node's file system for the sources, cheap to start (see `nodePlatformLite.ts`); loaded when the
 * layer is built.
 */
export const nodeFileSystem: Layer.Layer<FileSystem.FileSystem> = Layer.unwrapEffect(
  Effect.promise(() => import("./nodePlatformLite.js")).pipe(Effect.map((m) => m.fileSystemLayer))
)

/** Node's file system and process runner for the sources, cheap to start; loaded when the layer is built. */
export const nodePlatform: Layer.Layer<FileSystem.FileSystem | CommandExecutor.CommandExecutor> = Layer.unwrapEffect(
  Effect.promise(() => import("./nodePlatformLite.js")).pipe(Effect.map((m) => m.platformLayer))
)
