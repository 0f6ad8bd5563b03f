/**
 * `npm run bench`: every benchmark, printed as ratios against the AWS SDK for JavaScript
 * measured side by side in the same run. Never asserted in tests.
 */
import { blackhole } from "./blackhole.js"
import { refresh } from "./refresh.js"
import { s3 } from "./s3.js"
import { startup } from "./startup.js"

process.env.AWS_EC2_METADATA_DISABLED = "true"
process.env.AWS_SDK_JS_SUPPRESS_NODE_VERSION_WARNING = "1"

startup()
await refresh()
await blackhole()
await s3()
