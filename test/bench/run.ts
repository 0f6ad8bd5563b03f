/**
 * `npm run bench`: every benchmark, printed as ratios against the AWS SDK for JavaScript
 * measured side by side in the same run. Never asserted in tests.
 */
import { blackhole } from "./blackhole.js"
import { refresh } from "./refresh.js"
import { spawnSync } from "node:child_process"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { startup } from "./startup.js"

process.env.AWS_EC2_METADATA_DISABLED = "true"
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true"

startup()
await refresh()
await blackhole()
// The S3 benchmark measures a process's memory: it runs in a fresh one, under the same loader.
const s3 = spawnSync(process.execPath, [...process.execArgv, path.join(path.dirname(fileURLToPath(import.meta.url)), "s3.ts")], {
  stdio: "inherit",
  env: { ...process.env, AWS_EC2_METADATA_DISABLED: "true", AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" }
})
if (s3.status !== 0) process.exitCode = 1
