/**
 * The platform services the sources use, reached without loading their modules at import
 * time. `@effect/platform/FileSystem` pulls in `Schema`, `Stream` and the platform errors (a few
 * hundred milliseconds of module loading on a cold start), which a program that only reads
 * environment credentials should not pay for. A `Context` tag is identified by its key, so a tag
 * made here with the platform's key finds the same service; `test/Platform.test.ts` checks that
 * the keys still match the pinned platform version.
 *
 * The Node implementations are imported on demand, when a layer that needs them is built.
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

/** Node's file system, loaded when the layer is built. */
export const nodeFileSystem: Layer.Layer<FileSystem.FileSystem> = Layer.unwrapEffect(
  Effect.promise(() => import("@effect/platform-node/NodeFileSystem")).pipe(Effect.map((m) => m.layer))
)

/** Node's file system and process runner, loaded when the layer is built. */
export const nodePlatform: Layer.Layer<FileSystem.FileSystem | CommandExecutor.CommandExecutor> = Layer.unwrapEffect(
  Effect.promise(() =>
    Promise.all([import("@effect/platform-node/NodeFileSystem"), import("@effect/platform-node/NodeCommandExecutor")])
  ).pipe(
    Effect.map(([fs, executor]) => Layer.merge(fs.layer, executor.layer.pipe(Layer.provide(fs.layer))))
  )
)
