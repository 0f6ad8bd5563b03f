/**
 * Generated input for every decoder of untrusted text, 100,000 inputs each (issue 10). The
 * properties are those of `npm test` (`support/generated.ts`), with fifty times the inputs.
 */
import { generatedSuites } from "../support/generated.js"

generatedSuites(Number(process.env.EAC_GENERATED_RUNS ?? 100_000))
