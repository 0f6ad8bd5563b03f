/**
 * `npm run bench`: every figure of issue 12's table in one run, each measured side by side with
 * its reference (the AWS SDK for JavaScript, botocore, the `aws` command line, the raw
 * `S3Client`) in interleaved pairs (`pairs.ts`). Prints one Markdown table with the machine it
 * ran on, and writes it as JSON to `bench-results.json` at the repository's root. With
 * `BENCH_WRITE_README=1` the table also replaces the one in README.md (between the
 * `bench:start` / `bench:end` markers). Never asserted in tests.
 *
 * Environment: `BENCH_PAIRS` (pairs per figure, 11 unless told), `BENCH_HOT_CALLS` (calls per
 * batch of the cached-call figures, 20,000 unless told).
 */
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { blackhole } from "./blackhole.js"
import { machine, machineLine, pairCount, type Row, table } from "./pairs.js"
import { hotPath, refreshCounts } from "./refresh.js"
import { startup } from "./startup.js"

process.env.AWS_EC2_METADATA_DISABLED = "true"
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true"

const here = path.dirname(fileURLToPath(import.meta.url))
const repo = path.resolve(here, "..", "..")
const started = Date.now()
const timestamp = new Date(started).toISOString()
const host = machine()
const pairs = pairCount()

const step = (name: string) => console.error(`[bench ${((Date.now() - started) / 1000).toFixed(0)} s] ${name}`)

step("cached calls")
const hot = await hotPath()
step("start-up")
const cold = await startup()
step("black hole")
const hole = await blackhole()
step("refresh behaviour")
const behaviour = await refreshCounts()

// The S3 benchmark measures a process's memory: it runs in a fresh one, under the same loader,
// and hands its rows back in a file.
step("S3 (its own process)")
const s3Rows = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "eac-bench-s3-")), "rows.json")
const s3 = spawnSync(process.execPath, [...process.execArgv, path.join(here, "s3.ts")], {
  stdio: ["ignore", "ignore", "inherit"],
  env: {
    ...process.env,
    AWS_EC2_METADATA_DISABLED: "true",
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
    BENCH_S3_ROWS: s3Rows
  }
})
const storage: ReadonlyArray<Row> = s3.status === 0 && fs.existsSync(s3Rows)
  ? JSON.parse(fs.readFileSync(s3Rows, "utf8")) as ReadonlyArray<Row>
  : []
fs.rmSync(path.dirname(s3Rows), { recursive: true, force: true })
if (s3.status !== 0) {
  console.error(`the S3 benchmark failed (exit ${s3.status}): its rows are missing`)
  process.exitCode = 1
}

const rows: ReadonlyArray<Row> = [...hot, ...cold, ...hole, ...storage]
const seconds = Math.round((Date.now() - started) / 1000)
const markdown = [
  table(rows),
  "",
  machineLine(host, timestamp, pairs),
  "",
  "Behaviour (upstream fetches, the same `credential_process` behind both):",
  `- 10,000 concurrent calls needing a refresh: ours ${behaviour.storm.ours}, SDK ${behaviour.storm.sdk}`,
  `- 200 calls over about 2 s, credentials living 8 s: ours ${behaviour.shortLived.ours}, SDK ${behaviour.shortLived.sdk}`
].join("\n")

fs.writeFileSync(
  path.join(repo, "bench-results.json"),
  JSON.stringify({ timestamp, machine: host, pairs, seconds, rows, behaviour }, null, 2) + "\n"
)
console.log(markdown)
console.error(`[bench] ${seconds} s; written to bench-results.json`)

if (process.env.BENCH_WRITE_README === "1") {
  const readme = path.join(repo, "README.md")
  const text = fs.readFileSync(readme, "utf8")
  const begin = "<!-- bench:start -->"
  const end = "<!-- bench:end -->"
  const from = text.indexOf(begin)
  const to = text.indexOf(end)
  if (from === -1 || to < from) {
    console.error("README.md has no bench:start / bench:end markers: not updated")
    process.exitCode = 1
  } else {
    fs.writeFileSync(readme, `${text.slice(0, from + begin.length)}\n${markdown}\n${text.slice(to)}`)
  }
}
