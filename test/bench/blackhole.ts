/**
 * No credentials anywhere and an instance metadata service that accepts connections and never
 * answers, on 127.0.0.1: whole-process wall time of `node dist/bin.js explain --json` and of a
 * minimal program resolving `CredentialChain.layerNode()`, each in interleaved pairs with
 * botocore's `Session().get_credentials()` in the same environment (HOME an empty temporary
 * directory, `AWS_EC2_METADATA_SERVICE_ENDPOINT` at the black hole, `BOTO_CONFIG` a missing
 * file). The goal: no slower than botocore. Needs `npm run build` first.
 */
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { compare, type Row, table } from "./pairs.js"

const here = path.dirname(fileURLToPath(import.meta.url))
const repo = path.resolve(here, "..", "..")

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

interface Program {
  readonly name: string
  readonly command: string
  readonly args: ReadonlyArray<string>
  readonly env: NodeJS.ProcessEnv
  /** Whether a run ended the way it must (nothing found). */
  readonly check: (sample: Sample) => boolean
}

/** One fresh process, in ms; a run that does not end as it must stops the bench. */
const measure = (program: Program) => async (): Promise<number> => {
  const sample = await timeOnce(program.command, program.args, program.env)
  if (!program.check(sample)) {
    throw new Error(
      `${program.name}: unexpected outcome (exit ${sample.status}):\n${sample.stdout.slice(0, 2000)}\n${sample.stderr.slice(0, 2000)}`
    )
  }
  return sample.ms
}

const explainArgs = [path.join(repo, "dist", "bin.js"), "explain", "--json"]
const chainArgs = [path.join(here, "programs", "ours-chain-none.mjs")]
const botocoreArgs = ["-c", "import botocore.session\nassert botocore.session.Session().get_credentials() is None"]

// Nothing found, with at least one attempt listed (not a fixed count: the chain may change).
const explainFoundNothing = (sample: Sample): boolean => {
  if (sample.status !== 1) return false
  try {
    const report = JSON.parse(sample.stdout) as { error?: { _tag?: string }; attempts?: Array<unknown> }
    return report.error?._tag === "NoCredentialsFound" && (report.attempts?.length ?? 0) > 0
  } catch {
    return false
  }
}
const chainFoundNothing = (sample: Sample): boolean => sample.status === 0 && sample.stdout.startsWith("NoCredentialsFound")
const botocoreFoundNothing = (sample: Sample): boolean => sample.status === 0

/** Row 7 of the table, and the same for the library's chain in a minimal program. */
export const blackhole = async (): Promise<ReadonlyArray<Row>> => {
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
    const botocore = measure({ name: "botocore", command: "python3", args: botocoreArgs, env, check: botocoreFoundNothing })
    const options = { unit: "ms", referenceName: "botocore `Session().get_credentials()`", goal: "<= 1.0x (botocore or less)" }
    const withDifference = (r: Row): Row =>
      r.ours === null || r.reference === null
        ? r
        : { ...r, oursNote: `${r.ours >= r.reference ? "+" : ""}${(r.ours - r.reference).toFixed(0)} ms` }
    const explain = await compare(
      { ...options, figure: "black hole: nothing configured, metadata endpoint accepting and never answering, installed bin `explain --json`" },
      measure({ name: "explain --json", command: process.execPath, args: explainArgs, env, check: explainFoundNothing }),
      botocore
    )
    const chain = await compare(
      { ...options, figure: "the same, `CredentialChain.layerNode()` in a minimal program (unbundled)", goal: "—" },
      measure({ name: "layerNode()", command: process.execPath, args: chainArgs, env, check: chainFoundNothing }),
      botocore
    )
    return [withDifference(explain), withDifference(chain)]
  } finally {
    await server.close()
    fs.rmSync(home, { recursive: true, force: true })
  }
}

// Run on its own: `npx tsx test/bench/blackhole.ts` (after `npm run build`).
if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  console.log(table(await blackhole()))
}
