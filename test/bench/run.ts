/**
 * `npm run bench`: every benchmark, printed as ratios against the AWS SDK for JavaScript
 * measured side by side in the same run. Never asserted in tests.
 */
import { startup } from "./startup.js"

startup()
