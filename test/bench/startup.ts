/**
 * Start-up cost: whole-process wall time (median of several runs) of a minimal program that
 * imports the package and resolves environment credentials, of `node dist/bin.js explain
 * --json`, and of the same programs written with `@aws-sdk/credential-providers`.
 * Needs `npm run build` first (`npm run bench` does it).
 */
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const here = path.dirname(fileURLToPath(import.meta.url))
const repo = path.resolve(here, "..", "..")
const runs = Number(process.env.BENCH_RUNS ?? 11)
const home = fs.mkdtempSync(path.join(os.tmpdir(), "eac-bench-"))

const env = {
  PATH: process.env.PATH,
  HOME: home,
  AWS_EC2_METADATA_DISABLED: "true",
  BOTO_CONFIG: path.join(home, "none"),
  AWS_ACCESS_KEY_ID: "AKIABENCH00000000001",
  AWS_SECRET_ACCESS_KEY: "benchSecret000000000000000000000000000000",
  // The SDK warns about Node 20 on every call; the warning is not what we measure.
  AWS_SDK_JS_SUPPRESS_NODE_VERSION_WARNING: "1",
  NODE_NO_WARNINGS: "1"
}

const median = (values: Array<number>) => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)]!
}

const time = (args: Array<string>): number => {
  const samples: Array<number> = []
  for (let i = 0; i < runs; i++) {
    const start = process.hrtime.bigint()
    const result = spawnSync(process.execPath, args, { cwd: repo, env, encoding: "utf8" })
    const elapsed = Number(process.hrtime.bigint() - start) / 1e6
    if (result.status !== 0) throw new Error(`${args.join(" ")} failed: ${result.stderr}`)
    samples.push(elapsed)
  }
  return median(samples)
}

export const startup = () => {
  const bare = time(["-e", "0"])
  const rows: Array<[string, number]> = [
    ["node -e 0 (baseline)", bare],
    ["ours: import + EnvCredentials.layer", time([path.join(here, "programs", "ours-env.mjs")])],
    ["sdk:  fromEnv()", time([path.join(here, "programs", "sdk-env.mjs")])],
    ["ours: import + CredentialChain.layerNode()", time([path.join(here, "programs", "ours-chain.mjs")])],
    ["sdk:  fromNodeProviderChain()", time([path.join(here, "programs", "sdk-chain.mjs")])],
    ["ours: node dist/bin.js explain --json", time([path.join(repo, "dist", "bin.js"), "explain", "--json"])]
  ]
  fs.rmSync(home, { recursive: true, force: true })
  console.log(`Start-up, whole process, median of ${runs} runs (ms):`)
  for (const [name, ms] of rows) console.log(`  ${name.padEnd(46)} ${ms.toFixed(0).padStart(6)}`)
  const get = (name: string) => rows.find(([n]) => n.startsWith(name))![1]
  console.log(`  ratio env  (ours / sdk): ${(get("ours: import + Env") / get("sdk:  fromEnv")).toFixed(2)}`)
  console.log(`  ratio chain (ours / sdk): ${(get("ours: import + Cred") / get("sdk:  fromNode")).toFixed(2)}`)
  return rows
}
