/**
 * The platform services `layerNode` gives its sources (`internal/nodePlatform.ts`): the
 * platform's own `FileSystem` and `CommandExecutor` services under the platform's own tags, with
 * the reads that decide whether a file is there keeping the reasons the sources rely on (a path
 * through a regular file is missing, as botocore sees it), and the rest of the Node
 * implementation (writing a cache, running a process) working through the same service.
 */
import * as Command from "@effect/platform/Command"
import * as CommandExecutor from "@effect/platform/CommandExecutor"
import * as FileSystem from "@effect/platform/FileSystem"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { execFileSync } from "node:child_process"
import * as path from "node:path"
import { fileSystemLayer, platformLayer } from "../src/internal/nodePlatform.js"
import { tempHome } from "./support/fixtures.js"

/** The failure's platform reason, or `"succeeded"`. */
const reasonOf = <A, R>(effect: Effect.Effect<A, unknown, R>) =>
  Effect.match(effect, {
    onFailure: (error) =>
      typeof error === "object" && error !== null && "reason" in error ? String(error.reason) : "not a SystemError",
    onSuccess: () => "succeeded"
  })

describe("layerNode's platform services", () => {
  it.effect("are found under the platform's own tags", () =>
    Effect.gen(function*() {
      const fileSystem = yield* FileSystem.FileSystem
      const executor = yield* CommandExecutor.CommandExecutor
      assert.strictEqual(executor[CommandExecutor.TypeId], CommandExecutor.TypeId)
      assert.isFunction(fileSystem.writeFileString)
    }).pipe(Effect.provide(platformLayer)))

  it.scoped("a missing file and a path through a regular file are NotFound; exists says false", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const fs = yield* FileSystem.FileSystem
      const missing = path.join(home.dir, "missing")
      const through = path.join(home.write("plain", "x"), "config")
      for (const file of [missing, through]) {
        assert.strictEqual(yield* reasonOf(fs.stat(file)), "NotFound", file)
        assert.strictEqual(yield* reasonOf(fs.readFile(file)), "NotFound", file)
        assert.strictEqual(yield* reasonOf(fs.readLink(file)), "NotFound", file)
        assert.strictEqual(yield* reasonOf(fs.access(file)), "NotFound", file)
        assert.isFalse(yield* fs.exists(file), file)
      }
      assert.isTrue(yield* fs.exists(path.join(home.dir, "plain")))
    }).pipe(Effect.provide(fileSystemLayer)))

  it.scoped("stat tells special files apart and follows links; readLink reads a dangling link", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const fs = yield* FileSystem.FileSystem
      const fifo = path.join(home.dir, "fifo")
      execFileSync("mkfifo", [fifo])
      const file = home.write("file", "four")
      yield* fs.symlink(file, path.join(home.dir, "link"))
      yield* fs.symlink(path.join(home.dir, "nowhere"), path.join(home.dir, "dangling"))

      assert.strictEqual((yield* fs.stat(fifo)).type, "FIFO")
      assert.strictEqual((yield* fs.stat(home.dir)).type, "Directory")
      const linked = yield* fs.stat(path.join(home.dir, "link"))
      assert.strictEqual(linked.type, "File")
      assert.strictEqual(linked.size, FileSystem.Size(4))
      assert.strictEqual(yield* reasonOf(fs.stat(path.join(home.dir, "dangling"))), "NotFound")
      assert.strictEqual(yield* fs.readLink(path.join(home.dir, "dangling")), path.join(home.dir, "nowhere"))
      assert.strictEqual(yield* reasonOf(fs.readFile(home.dir)), "BadResource")
      assert.deepStrictEqual([...(yield* fs.readFile(file))], [...new TextEncoder().encode("four")])
    }).pipe(Effect.provide(fileSystemLayer)))

  it.scoped("writes, renames, opens and removes through the Node implementation", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const fs = yield* FileSystem.FileSystem
      const directory = path.join(home.dir, "cache", "nested")
      yield* fs.makeDirectory(directory, { recursive: true, mode: 0o700 })
      const temporary = path.join(directory, "entry.tmp")
      const file = path.join(directory, "entry.json")
      yield* fs.writeFileString(temporary, "{}", { mode: 0o600 })
      yield* fs.rename(temporary, file)
      assert.strictEqual(yield* fs.readFileString(file), "{}")
      const chunk = yield* Effect.scoped(
        Effect.flatMap(fs.open(file, { flag: "r" }), (handle) => handle.readAlloc(FileSystem.Size(64)))
      )
      assert.deepStrictEqual(Option.map(chunk, (bytes) => new TextDecoder().decode(bytes)), Option.some("{}"))
      yield* fs.remove(file)
      assert.isFalse(yield* fs.exists(file))
    }).pipe(Effect.provide(fileSystemLayer)))

  it.effect("runs a process", () =>
    Effect.gen(function*() {
      const output = yield* Command.string(Command.make(process.execPath, "-e", "process.stdout.write('ran')"))
      assert.strictEqual(output, "ran")
    }).pipe(Effect.provide(platformLayer)))
})
