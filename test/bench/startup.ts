/**
 * Start-up cost: minimal programs that resolve environment credentials with this package and
 * with `@aws-sdk/credential-providers`, bundled with esbuild (`--bundle --minify --format=esm
 * --platform=node`, what Lambda and container users ship) and as they are (unbundled), timed as
 * whole processes; the default chain's build and first resolution timed inside a fresh process,
 * after its imports; and the installed command line against `aws configure list`. Every figure
 * is a series of interleaved pairs of fresh processes (`pairs.ts`). The bundles' sizes are shown
 * next to the times. `fromChain()` of the `sdk` subpath, the drop-in for `fromNodeProviderChain()`,
 * is measured the same way (`sdkStartup`). Needs `npm run build` first (`npm run bench` does it).
 */
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { compare, type Row, type RowOptions, single, table } from "./pairs.js"

const here = path.dirname(fileURLToPath(import.meta.url))
const repo = path.resolve(here, "..", "..")
const programs = path.join(here, "programs")
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

interface Program {
  readonly name: string
  readonly command: string
  readonly args: ReadonlyArray<string>
  /** "wall": the whole process, as seen from here; "inside": the `ms` the program prints. */
  readonly timing?: "wall" | "inside"
}

/** One fresh process of `program`, in ms. */
const runOnce = (program: Program): number => {
  const start = process.hrtime.bigint()
  const result = spawnSync(program.command, program.args, { cwd: repo, env, encoding: "utf8" })
  const elapsed = Number(process.hrtime.bigint() - start) / 1e6
  if (result.status !== 0) throw new Error(`${program.name} failed (exit ${result.status}): ${result.stderr}`)
  if (program.timing !== "inside") return elapsed
  const last = result.stdout.trim().split("\n").at(-1) ?? ""
  const ms = (JSON.parse(last) as { ms?: unknown }).ms
  if (typeof ms !== "number") throw new Error(`${program.name} printed no time: ${result.stdout}`)
  return ms
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

const node = (name: string, file: string, timing: Program["timing"] = "wall"): Program => ({
  name,
  command: process.execPath,
  args: [file],
  timing
})

const pair = (options: RowOptions, ours: Program, reference: Program): Promise<Row> =>
  compare(options, () => runOnce(ours), () => runOnce(reference))

const unbundledNote = "unbundled: Effect's module graph dominates; the goals are for bundled programs"

/** Rows 3 to 6 of the table, each bundled figure followed by its unbundled one. */
export const startup = async (): Promise<ReadonlyArray<Row>> => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), "eac-bench-bundles-"))
  try {
    const names = ["ours-env", "ours-env-subpath", "ours-chain", "ours-chain-build", "sdk-env", "sdk-chain", "sdk-chain-build", "effect-floor"]
    const bundles = Object.fromEntries(names.map((name) => [name, bundle(path.join(programs, `${name}.mjs`), out)]))
    const bundled = (name: string, timing: Program["timing"] = "wall") => node(`${name}, bundled`, bundles[name]!.file, timing)
    const unbundled = (name: string, timing: Program["timing"] = "wall") =>
      node(`${name}, unbundled`, path.join(programs, `${name}.mjs`), timing)
    const kib = (name: string) => `bundle ${(bundles[name]!.bytes / 1024).toFixed(0)} KiB`
    const ms = { unit: "ms" }
    const rows: Array<Row> = []

    const chain = { ...ms, figure: "bundled program resolving the default chain with env credentials, whole process", goal: "<= 1.3x" }
    rows.push(await pair({ ...chain, referenceName: "SDK `fromNodeProviderChain()`, bundled", oursNote: kib("ours-chain"), referenceNote: kib("sdk-chain") }, bundled("ours-chain"), bundled("sdk-chain")))
    rows.push(await pair({ ...ms, figure: `the same, ${unbundledNote}`, referenceName: "SDK `fromNodeProviderChain()`, unbundled", goal: "—" }, unbundled("ours-chain"), unbundled("sdk-chain")))
    rows.push(await pair({ ...ms, figure: "for scale, not ours: the least Effect program serving env keys, bundled, whole process", referenceName: "SDK `fromNodeProviderChain()`, bundled", goal: "—", oursNote: kib("effect-floor"), referenceNote: kib("sdk-chain") }, bundled("effect-floor"), bundled("sdk-chain")))

    const build = { ...ms, figure: "of which: building the chain layer and first resolution, in process after imports (bundled)", goal: "<= 3x" }
    rows.push(await pair({ ...build, referenceName: "SDK `fromNodeProviderChain()()` first call, bundled" }, bundled("ours-chain-build", "inside"), bundled("sdk-chain-build", "inside")))
    rows.push(await pair({ ...ms, figure: "the same, unbundled (lazy imports inside the build are counted)", referenceName: "SDK `fromNodeProviderChain()()` first call, unbundled", goal: "—" }, unbundled("ours-chain-build", "inside"), unbundled("sdk-chain-build", "inside")))
    // Not ours: how far below the goals Effect's own start-up already is (see effect-floor.mjs).
    const floor = { ...ms, referenceName: "SDK `fromNodeProviderChain()()` first call, bundled", goal: "—" }
    rows.push(await pair({ ...floor, figure: "for scale, not ours: the least Effect program serving env keys (one Layer.scoped, three Config reads), in process (bundled)" }, bundled("effect-floor", "inside"), bundled("sdk-chain-build", "inside")))
    rows.push(await pair({ ...floor, figure: "for scale: our chain build against that least Effect program, in process (bundled)", referenceName: "the least Effect program above, bundled" }, bundled("ours-chain-build", "inside"), bundled("effect-floor", "inside")))

    const fromEnv = { ...ms, referenceName: "SDK `fromEnv()`, bundled", referenceNote: kib("sdk-env") }
    rows.push(await pair({ ...fromEnv, figure: "bundled program importing the env source from the package root, whole process", goal: "<= 1.1x", oursNote: kib("ours-env") }, bundled("ours-env"), bundled("sdk-env")))
    rows.push(await pair({ ...fromEnv, figure: "the same, importing by subpath (`effect-aws-credentials/providers/EnvCredentials`)", goal: "—", oursNote: kib("ours-env-subpath") }, bundled("ours-env-subpath"), bundled("sdk-env")))
    const envUnbundled = { ...ms, referenceName: "SDK `fromEnv()`, unbundled", goal: "—" }
    rows.push(await pair({ ...envUnbundled, figure: `the same from the package root, ${unbundledNote}` }, unbundled("ours-env"), unbundled("sdk-env")))
    rows.push(await pair({ ...envUnbundled, figure: `the same by subpath, ${unbundledNote}` }, unbundled("ours-env-subpath"), unbundled("sdk-env")))

    rows.push(...await sdkStartup(out))

    const explain: Program = { name: "explain --json", command: process.execPath, args: [path.join(repo, "dist", "bin.js"), "explain", "--json"] }
    const cli = { ...ms, figure: "installed bin `explain --json` (env credentials), whole process", goal: "<= 0.6x" }
    const aws = spawnSync("aws", ["--version"], { env, encoding: "utf8" })
    if (aws.status !== 0) console.error(`aws --version: exit ${aws.status} ${aws.error ?? ""} ${aws.stderr}`)
    if (aws.status === 0) {
      rows.push(await pair({ ...cli, referenceName: "`aws configure list`" }, explain, { name: "aws configure list", command: "aws", args: ["configure", "list"] }))
    } else {
      const samples = Array.from({ length: 5 }, () => runOnce(explain)).sort((a, b) => a - b)
      rows.push(single({ ...cli, referenceName: "`aws configure list`", referenceNote: "the aws command line is not on PATH: not compared" }, samples[2]!))
    }
    return rows
  } finally {
    fs.rmSync(out, { recursive: true, force: true })
    fs.rmSync(home, { recursive: true, force: true })
  }
}

/**
 * `fromChain()` from `effect-aws-credentials/sdk` against `fromNodeProviderChain()`, both bundled:
 * a whole process that imports it, resolves env credentials once and (ours) disposes; the bundle
 * sizes next to the times. Bundles go to `out` (a temporary directory of its own when alone).
 */
export const sdkStartup = async (out?: string): Promise<ReadonlyArray<Row>> => {
  const dir = out ?? fs.mkdtempSync(path.join(os.tmpdir(), "eac-bench-bundles-"))
  try {
    const ours = bundle(path.join(programs, "ours-sdk-chain.mjs"), dir)
    const sdk = bundle(path.join(programs, "sdk-chain.mjs"), dir)
    const kib = (bytes: number) => `bundle ${(bytes / 1024).toFixed(0)} KiB`
    return [
      await pair(
        {
          unit: "ms",
          figure: "bundled program using `fromChain()` (`effect-aws-credentials/sdk`): start-up + first resolution, env credentials, whole process",
          referenceName: "SDK `fromNodeProviderChain()`, bundled",
          goal: "<= 1.3x (the chain's)",
          oursNote: kib(ours.bytes),
          referenceNote: kib(sdk.bytes)
        },
        node("ours-sdk-chain, bundled", ours.file),
        node("sdk-chain, bundled", sdk.file)
      )
    ]
  } finally {
    if (out === undefined) fs.rmSync(dir, { recursive: true, force: true })
  }
}

// Run on its own: `npx tsx test/bench/startup.ts` (after `npm run build`); with the argument
// `sdk`, only the `fromChain()` figure.
if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    console.log(table(process.argv[2] === "sdk" ? await sdkStartup() : await startup()))
  } finally {
    fs.rmSync(home, { recursive: true, force: true })
  }
}
