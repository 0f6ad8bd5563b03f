/**
 * The library reaches the platform's FileSystem and CommandExecutor through tags it makes
 * itself (so that importing the package does not load the platform modules). That only works
 * while the keys match the platform's; an upgrade that changes them must fail here.
 */
import * as CommandExecutor from "@effect/platform/CommandExecutor"
import * as FileSystem from "@effect/platform/FileSystem"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { fileSystemLayer as nodeFileSystem } from "../src/internal/nodePlatformLite.js"
import { CommandExecutorTag, FileSystemTag } from "../src/internal/platform.js"

describe("platform tags", () => {
  it("have the platform's keys", () => {
    assert.strictEqual(FileSystemTag.key, FileSystem.FileSystem.key)
    assert.strictEqual(CommandExecutorTag.key, CommandExecutor.CommandExecutor.key)
  })

  it.effect("find the service the platform's layer provides", () =>
    Effect.gen(function*() {
      const ours = yield* FileSystemTag
      const theirs = yield* FileSystem.FileSystem
      assert.strictEqual(ours, theirs)
    }).pipe(Effect.provide(nodeFileSystem)))
})
