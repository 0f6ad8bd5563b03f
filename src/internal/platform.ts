/**
 * The platform's `FileSystem` and `CommandExecutor` tags, made here with the platform's keys. A
 * `Context` tag is identified by its key, so these find the same services as the platform's own
 * tags; `test/Platform.test.ts` checks that the keys still match the pinned platform version.
 * Node's implementations for `layerNode` are in `nodePlatformLite.ts`.
 */
import type * as CommandExecutor from "@effect/platform/CommandExecutor"
import type * as FileSystem from "@effect/platform/FileSystem"
import * as Context from "effect/Context"

export const FileSystemTag: Context.Tag<FileSystem.FileSystem, FileSystem.FileSystem> = Context.GenericTag<
  FileSystem.FileSystem
>("@effect/platform/FileSystem")

export const CommandExecutorTag: Context.Tag<CommandExecutor.CommandExecutor, CommandExecutor.CommandExecutor> =
  Context.GenericTag<CommandExecutor.CommandExecutor>("@effect/platform/CommandExecutor")
