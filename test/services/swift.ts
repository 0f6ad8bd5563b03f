/**
 * OpenStack Swift with its S3 layer (s3api + tempauth) for the services tier: a strict S3 that
 * verifies SigV4 headers, presigned URLs and their expiry, and the payload hash.
 *
 * `startSwift()` runs `test/services/swift.sh` (installs the Debian packages when missing and
 * allowed, configures four servers on free loopback ports in a temp dir, waits for them) and
 * returns the endpoint and keys; `stop()` stops the servers and removes the dir. As safety nets,
 * the servers are also stopped when this process exits, and the script's watcher stops them when
 * this process is gone without exiting cleanly (killed).
 *
 * Outside CI a Swift that cannot start rejects with `SwiftUnavailable` (its `reason` says why:
 * callers skip with it); under `CI=true` it rejects with a plain `Error`, never a skip.
 */
import { execFile, execFileSync } from "node:child_process"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

/** A running Swift: an S3 endpoint and the tempauth user `test:tester`. */
export interface Swift {
  readonly endpoint: string
  readonly accessKeyId: string
  readonly secretAccessKey: string
  readonly stop: () => Promise<void>
}

/** Swift cannot run here (outside CI): `reason` is for the skip message. */
export class SwiftUnavailable extends Error {
  override readonly name = "SwiftUnavailable"
  constructor(readonly reason: string) {
    super(`Swift is unavailable: ${reason}`)
  }
}

/** The script, for users and CI: `swift.sh [start] [DIR]`, `swift.sh stop DIR`, `swift.sh install`. */
export const swiftScript = path.join(path.dirname(fileURLToPath(import.meta.url)), "swift.sh")

/** Installing takes ~25 s on a fresh machine; starting ~3-5 s. */
const startTimeoutMs = 300_000

interface Started {
  readonly endpoint: string
  readonly accessKeyId: string
  readonly secretAccessKey: string
  readonly dir: string
  readonly pids: ReadonlyArray<number>
}

const parse = (stdout: string): Started | undefined => {
  const line = stdout.trim().split("\n").pop() ?? ""
  try {
    const value: unknown = JSON.parse(line)
    if (typeof value !== "object" || value === null) return undefined
    const v = value as Record<string, unknown>
    if (
      typeof v.endpoint === "string" && typeof v.accessKeyId === "string" && typeof v.secretAccessKey === "string" &&
      typeof v.dir === "string" && Array.isArray(v.pids) && v.pids.every((pid) => typeof pid === "number")
    ) {
      return {
        endpoint: v.endpoint,
        accessKeyId: v.accessKeyId,
        secretAccessKey: v.secretAccessKey,
        dir: v.dir,
        pids: v.pids as Array<number>
      }
    }
  } catch {
    // not JSON
  }
  return undefined
}

/** The script's last diagnostic (`swift.sh: ...`), else the tail of its stderr. */
const reasonOf = (stderr: string, fallback: string): string => {
  const lines = stderr.trim().split("\n").filter((line) => line.length > 0)
  const own = lines.filter((line) => line.startsWith("swift.sh: ")).pop()
  return own?.slice("swift.sh: ".length) ?? (lines.length > 0 ? lines.slice(-3).join(" | ") : fallback)
}

const failure = (reason: string, stderr: string): Error =>
  process.env.CI === "true"
    ? new Error(`CI=true but Swift did not start: ${reason}\n${stderr.trim().split("\n").slice(-30).join("\n")}`)
    : new SwiftUnavailable(reason)

const run = (args: ReadonlyArray<string>, env: NodeJS.ProcessEnv, timeout: number) =>
  new Promise<{ readonly error: Error | null; readonly stdout: string; readonly stderr: string }>((resolve) => {
    execFile("bash", [swiftScript, ...args], { env, timeout, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) =>
      resolve({ error, stdout, stderr }))
  })

/** Starts Swift (see the module doc). */
export const startSwift = async (): Promise<Swift> => {
  if (process.platform !== "linux") throw failure(`swift.sh runs on Debian Linux, not ${process.platform}`, "")
  const { error, stderr, stdout } = await run(
    ["start"],
    { ...process.env, SWIFT_WATCH_PID: String(process.pid) },
    startTimeoutMs
  )
  const started = parse(stdout)
  if (error !== null || started === undefined) {
    if (started !== undefined) await run(["stop", started.dir], process.env, 30_000)
    throw failure(reasonOf(stderr, error?.message ?? "swift.sh printed no JSON"), stderr)
  }
  // Safety net: the servers go when this process exits normally ('exit' handlers must be synchronous).
  const onExit = () => {
    try {
      execFileSync("bash", [swiftScript, "stop", started.dir], { stdio: "ignore", timeout: 15_000 })
    } catch {
      // best effort: the script's watcher stops them too
    }
  }
  process.once("exit", onExit)
  let stopping: Promise<void> | undefined
  return {
    endpoint: started.endpoint,
    accessKeyId: started.accessKeyId,
    secretAccessKey: started.secretAccessKey,
    stop: () =>
      (stopping ??= run(["stop", started.dir], process.env, 30_000).then(({ error, stderr }) => {
        process.removeListener("exit", onExit)
        if (error !== null) throw new Error(`swift.sh stop ${started.dir} failed: ${reasonOf(stderr, error.message)}`)
      }))
  }
}

/**
 * `startSwift()` for a suite that skips outside CI: the server, or the reason to skip.
 * Under `CI=true` (and on errors other than `SwiftUnavailable`) it rejects.
 */
export const startSwiftOrSkip = async (): Promise<
  { readonly swift: Swift; readonly skipReason?: undefined } | { readonly swift?: undefined; readonly skipReason: string }
> => {
  try {
    return { swift: await startSwift() }
  } catch (error) {
    if (error instanceof SwiftUnavailable) return { skipReason: error.reason }
    throw error
  }
}
