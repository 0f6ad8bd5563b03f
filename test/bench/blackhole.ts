/**
 * No credentials anywhere and an instance metadata service that accepts connections and never
 * answers (issue 3): whole-process wall time, median of several fresh processes, of
 * `node dist/bin.js explain --json`, of a minimal program resolving `CredentialChain.layerNode()`,
 * and of botocore's `Session().get_credentials()` in the same environment (HOME an empty
 * temporary directory, `AWS_EC2_METADATA_SERVICE_ENDPOINT` at the black hole, `BOTO_CONFIG` a
 * missing file). The target: ours within botocore's time plus 100 ms. Needs `npm run build` first.
 */
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const here = path.dirname(fileURLToPath(import.meta.url))
const repo = path.resolve(here, "..", "..")
const runs = Number(process.env.BENCH_BLACKHOLE_RUNS ?? 5)

/** A TCP server that accepts connections, reads what is sent and never answers. */
const blackHoleServer = (): Promise<{ readonly url: string; readonly close: () => Promise<void> }> =>
  new Promise((resolve) => {
    const sockets = new Set<net.Socket>()
    const server = net.createServer((socket) => {
      sockets.add(socket)
      socket.on("close", () => sockets.delete(socket))
      socket.on("error", () => {})
      socket.resume()
    })
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo
      resolve({
        url: `http://127.0.0.1:${port}`,
        close: () =>
          new Promise<void>((done) => {
            for (const socket of sockets) socket.destroy()
            server.close(() => done())
          })
      })
    })
  })

interface Sample {
  readonly ms: number
  readonly status: number | null
  readonly stdout: string
  readonly stderr: string
}

/** Runs a command to its end (the server above must keep answering connections meanwhile). */
const timeOnce = (command: string, args: ReadonlyArray<string>, env: NodeJS.ProcessEnv): Promise<Sample> =>
  new Promise((resolve, reject) => {
    const started = process.hrtime.bigint()
    const child = spawn(command, args, { cwd: repo, env, stdio: ["ignore", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString("utf8")))
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")))
    const killer = setTimeout(() => child.kill("SIGKILL"), 60_000)
    child.on("error", reject)
    child.on("close", (status) => {
      clearTimeout(killer)
      resolve({ ms: Number(process.hrtime.bigint() - started) / 1e6, status, stdout, stderr })
    })
  })

const median = (values: ReadonlyArray<number>) => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)]!
}

interface Program {
  readonly name: string
  readonly command: string
  readonly args: ReadonlyArray<string>
  readonly env: NodeJS.ProcessEnv
  /** Whether a run ended the way it must (nothing found, all twelve links). */
  readonly check: (sample: Sample) => boolean
}

/**
 * Median of `runs` fresh processes of each program. The programs take turns within each round,
 * so that load from elsewhere on the machine falls on all of them alike.
 */
const timeAll = async (programs: ReadonlyArray<Program>): Promise<ReadonlyArray<number>> => {
  const samples = programs.map((): Array<number> => [])
  for (let i = 0; i < runs; i++) {
    for (const [index, program] of programs.entries()) {
      const sample = await timeOnce(program.command, program.args, program.env)
      if (!program.check(sample)) {
        throw new Error(
          `${program.name}: unexpected outcome (exit ${sample.status}):\n${sample.stdout.slice(0, 2000)}\n${
            sample.stderr.slice(0, 2000)
          }`
        )
      }
      samples[index]!.push(sample.ms)
    }
  }
  return samples.map(median)
}

export interface BlackholeResult {
  /** Medians (ms) with the black hole. */
  readonly explain: number
  readonly chain: number
  readonly botocore: number
  /** The same programs with `AWS_EC2_METADATA_DISABLED=true`: start-up and the other links. */
  readonly floor: { readonly explain: number; readonly chain: number; readonly botocore: number }
}

const explainArgs = [path.join(repo, "dist", "bin.js"), "explain", "--json"]
const chainArgs = [path.join(here, "programs", "ours-chain-none.mjs")]
const botocoreArgs = ["-c", "import botocore.session\nassert botocore.session.Session().get_credentials() is None"]

const explainFoundNothing = (sample: Sample): boolean => {
  if (sample.status !== 1) return false
  try {
    const report = JSON.parse(sample.stdout) as { error?: { _tag?: string }; attempts?: Array<unknown> }
    return report.error?._tag === "NoCredentialsFound" && report.attempts?.length === 12
  } catch {
    return false
  }
}
const chainFoundNothing = (sample: Sample): boolean =>
  sample.status === 0 && sample.stdout.startsWith("NoCredentialsFound") &&
  sample.stdout.trim().split(" ")[1]?.split(",").length === 12
const botocoreFoundNothing = (sample: Sample): boolean => sample.status === 0

export const blackhole = async (): Promise<BlackholeResult> => {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), "eac-bench-blackhole-"))
  const server = await blackHoleServer()
  try {
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: home,
      AWS_EC2_METADATA_SERVICE_ENDPOINT: server.url,
      BOTO_CONFIG: path.join(home, "missing-boto.cfg"),
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
      NODE_NO_WARNINGS: "1"
    }
    const disabled: NodeJS.ProcessEnv = { ...env, AWS_EC2_METADATA_DISABLED: "true" }
    const programs = (environment: NodeJS.ProcessEnv): ReadonlyArray<Program> => [
      { name: "ours: explain --json", command: process.execPath, args: explainArgs, env: environment, check: explainFoundNothing },
      { name: "ours: layerNode()", command: process.execPath, args: chainArgs, env: environment, check: chainFoundNothing },
      { name: "botocore", command: "python3", args: botocoreArgs, env: environment, check: botocoreFoundNothing }
    ]
    const [explain, chain, botocore, floorExplain, floorChain, floorBotocore] = await timeAll([
      ...programs(env),
      ...programs(disabled)
    ]) as [number, number, number, number, number, number]
    const floor = { explain: floorExplain, chain: floorChain, botocore: floorBotocore }
    const diff = (ms: number, base: number) => `${ms - base >= 0 ? "+" : ""}${(ms - base).toFixed(0)}`
    console.log(
      "No credentials, IMDS accepting and never answering (default 1 s metadata timeout, 1 attempt),\n" +
        `whole process, median of ${runs} runs (ms); "floor" = same with AWS_EC2_METADATA_DISABLED=true:`
    )
    console.log(`  ${"".padEnd(44)} ${"total".padStart(6)} ${"floor".padStart(6)} ${"IMDS".padStart(6)} ${"vs botocore".padStart(12)}`)
    const rows: Array<[string, number, number]> = [
      ["ours: node dist/bin.js explain --json", explain, floor.explain],
      ["ours: import + CredentialChain.layerNode()", chain, floor.chain],
      ["botocore: Session().get_credentials()", botocore, floor.botocore]
    ]
    for (const [name, total, base] of rows) {
      console.log(
        `  ${name.padEnd(44)} ${total.toFixed(0).padStart(6)} ${base.toFixed(0).padStart(6)} ${
          (total - base).toFixed(0).padStart(6)
        } ${diff(total, botocore).padStart(12)}`
      )
    }
    console.log(
      `  target (issue 3): total at most botocore + 100 ms; chain ${diff(chain, botocore)} ms ` +
        `(IMDS part ${diff(chain - floor.chain, botocore - floor.botocore)} ms, start-up ${diff(floor.chain, floor.botocore)} ms), ` +
        `explain ${diff(explain, botocore)} ms`
    )
    return { explain, chain, botocore, floor }
  } finally {
    await server.close()
    fs.rmSync(home, { recursive: true, force: true })
  }
}

// Run on its own: `npx tsx test/bench/blackhole.ts` (after `npm run build`).
if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await blackhole()
}
