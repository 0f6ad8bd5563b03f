import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

/**
 * The cross-SDK test vectors live outside the repository (`../shared/vendor-testdata`, or the
 * directory named by `EFFECT_AWS_VECTORS_DIR`). A user's checkout without them reports the
 * conformance suites as skipped with the reason; under `CI=true` their absence is a failure.
 */
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..")

export const vectorsRoot: string = process.env.EFFECT_AWS_VECTORS_DIR
  ? path.resolve(process.env.EFFECT_AWS_VECTORS_DIR)
  : path.resolve(repoRoot, "..", "shared", "vendor-testdata")

export const vectorsAvailable: boolean = fs.existsSync(path.join(vectorsRoot, "smithy-rs"))

export const missingReason = `test vectors not found at ${vectorsRoot} (set EFFECT_AWS_VECTORS_DIR)`

if (!vectorsAvailable && process.env.CI === "true") {
  throw new Error(`CI=true but ${missingReason}`)
}

/** Reads a vector file relative to `vendor-testdata/smithy-rs/`. */
export const readVector = (relative: string): string =>
  fs.readFileSync(path.join(vectorsRoot, "smithy-rs", relative), "utf8")

export const vectorPath = (relative: string): string => path.join(vectorsRoot, "smithy-rs", relative)
