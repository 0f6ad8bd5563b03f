/**
 * Start-up cost, whole process: minimal programs that resolve environment credentials with this
 * package and with `@aws-sdk/credential-providers`, run as they are (unbundled) and bundled with
 * esbuild (`--bundle --minify --format=esm --platform=node`, what Lambda and container users
 * ship), and the installed command line against `aws configure list`. Runs are interleaved (one
 * of each program per round, in a rotating order) and each ratio is the median of the rounds'
 * ratios, so that drift of the machine hits both sides alike. Also prints the bundles' sizes:
 * one source imported from the package root against the same program importing by subpath.
 * Needs `npm run build` first (`npm run bench` does it).
 */
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const here = path.dirname(fileURLToPath(import.meta.url))
const repo = path.resolve(here, "..", "..")
const programs = path.join(here, "programs")
const runs = Number(process.env.BENCH_RUNS ?? 11)
const home = fs.mkdtempSync(path.join(os.tmpdir(), "eac-bench-"))

const env = {
  PATH: process.env.PATH,
  HOME: home,
  AWS_EC2_METADATA_DISABLED: "true",
  BOTO_CONFIG: path.join(home, "none"),
  AWS_ACCESS_KEY_ID: "AKIABENCH00000000001",
  AWS_SECRET_ACCESS_KEY: "benchSecret000000000000000000000000000000",
  // The SDK warns about Node 20 once per process; the warning is not what we measure.
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
  NODE_NO_WARNINGS: "1"
}

const median = (values: ReadonlyArray<number>): number => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)]!
}

interface Program {
  readonly name: string
  readonly command: string
  readonly args: ReadonlyArray<string>
}

const runOnce = (program: Program): number => {
  const start = process.hrtime.bigint()
  const result = spawnSync(program.command, program.args, { cwd: repo, env, encoding: "utf8" })
  const elapsed = Number(process.hrtime.bigint() - start) / 1e6
  if (result.status !== 0) throw new Error(`${program.name} failed: ${result.stderr}`)
  return elapsed
}

/** Every program once per round, the order rotated each round; the samples per program. */
const interleaved = (list: ReadonlyArray<Program>): Map<string, Array<number>> => {
  const samples = new Map(list.map((p) => [p.name, [] as Array<number>]))
  for (const program of list) runOnce(program) // warm the file cache
  for (let round = 0; round < runs; round++) {
    for (let i = 0; i < list.length; i++) {
      const program = list[(i + round) % list.length]!
      samples.get(program.name)!.push(runOnce(program))
    }
  }
  return samples
}

const bundle = (entry: string, outDir: string): { readonly file: string; readonly bytes: number } => {
  const file = path.join(outDir, path.basename(entry).replace(/\.mjs$/, ".bundle.mjs"))
  const result = spawnSync(path.join(repo, "node_modules", ".bin", "esbuild"), [
    entry,
    "--bundle",
    "--minify",
    "--format=esm",
    "--platform=node",
    `--outfile=${file}`,
    "--log-level=warning"
  ], { cwd: repo, encoding: "utf8" })
  if (result.status !== 0) throw new Error(`esbuild ${entry}: ${result.stderr}`)
  return { file, bytes: fs.statSync(file).size }
}

const node = (name: string, file: string): Program => ({ name, command: process.execPath, args: [file] })

export const startup = () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), "eac-bench-bundles-"))
  const bundles = Object.fromEntries(
    ["ours-env", "ours-env-subpath", "ours-chain", "sdk-env", "sdk-chain"].map((name) => [
      name,
      bundle(path.join(programs, `${name}.mjs`), out)
    ])
  )
  const kb = (bytes: number) => `${(bytes / 1024).toFixed(0)} KiB`
  console.log("Bundle sizes (esbuild --bundle --minify --format=esm --platform=node):")
  console.log(`  ours: EnvCredentials from the package root        ${kb(bundles["ours-env"]!.bytes).padStart(9)}`)
  console.log(`  ours: EnvCredentials by subpath imports           ${kb(bundles["ours-env-subpath"]!.bytes).padStart(9)}`)
  console.log(`  ours: CredentialChain.layerNode() from the root    ${kb(bundles["ours-chain"]!.bytes).padStart(9)}`)
  console.log(`  sdk:  fromEnv()                                    ${kb(bundles["sdk-env"]!.bytes).padStart(9)}`)
  console.log(`  sdk:  fromNodeProviderChain()                      ${kb(bundles["sdk-chain"]!.bytes).padStart(9)}`)
  console.log(
    `  ratio root / subpath: ${(bundles["ours-env"]!.bytes / bundles["ours-env-subpath"]!.bytes).toFixed(3)} (goal <= 1.10)`
  )

  const bin = path.join(repo, "dist", "bin.js")
  const hasAws = spawnSync("aws", ["--version"], { env }).status === 0
  const list: Array<Program> = [
    { name: "node -e 0 (baseline)", command: process.execPath, args: ["-e", "0"] },
    node("ours env, unbundled (root import)", path.join(programs, "ours-env.mjs")),
    node("ours env, unbundled (subpath imports)", path.join(programs, "ours-env-subpath.mjs")),
    node("sdk  fromEnv, unbundled", path.join(programs, "sdk-env.mjs")),
    node("ours chain, unbundled", path.join(programs, "ours-chain.mjs")),
    node("sdk  fromNodeProviderChain, unbundled", path.join(programs, "sdk-chain.mjs")),
    node("ours env, bundled (root import)", bundles["ours-env"]!.file),
    node("ours env, bundled (subpath imports)", bundles["ours-env-subpath"]!.file),
    node("sdk  fromEnv, bundled", bundles["sdk-env"]!.file),
    node("ours chain, bundled", bundles["ours-chain"]!.file),
    node("sdk  fromNodeProviderChain, bundled", bundles["sdk-chain"]!.file),
    { name: "ours node dist/bin.js explain --json", command: process.execPath, args: [bin, "explain", "--json"] },
    ...(hasAws ? [{ name: "aws configure list", command: "aws", args: ["configure", "list"] }] : [])
  ]
  const samples = interleaved(list)
  fs.rmSync(home, { recursive: true, force: true })
  fs.rmSync(out, { recursive: true, force: true })

  console.log(`Start-up, whole process, ${runs} interleaved rounds (median ms):`)
  for (const program of list) {
    console.log(`  ${program.name.padEnd(42)} ${median(samples.get(program.name)!).toFixed(0).padStart(6)}`)
  }
  const ratio = (ours: string, theirs: string) => {
    const a = samples.get(ours)!
    const b = samples.get(theirs)!
    return median(a.map((x, i) => x / b[i]!)).toFixed(2)
  }
  console.log("  ratios, ours / reference (median of the rounds' ratios):")
  console.log(`    env, unbundled:              ${ratio("ours env, unbundled (root import)", "sdk  fromEnv, unbundled")}`)
  console.log(`    env, bundled (root import):  ${ratio("ours env, bundled (root import)", "sdk  fromEnv, bundled")}`)
  console.log(`    env, bundled (subpath):      ${ratio("ours env, bundled (subpath imports)", "sdk  fromEnv, bundled")}`)
  console.log(`    chain, unbundled:            ${ratio("ours chain, unbundled", "sdk  fromNodeProviderChain, unbundled")}`)
  console.log(`    chain, bundled:              ${ratio("ours chain, bundled", "sdk  fromNodeProviderChain, bundled")}`)
  if (hasAws) {
    console.log(`    bin explain --json / aws configure list: ${ratio("ours node dist/bin.js explain --json", "aws configure list")}`)
  } else {
    console.log("    (aws not on PATH: the command line is not compared with aws configure list)")
  }
}
