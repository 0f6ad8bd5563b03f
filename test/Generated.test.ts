/**
 * Generated input for every decoder of untrusted text, a few thousand inputs each (the services
 * tier runs 100,000 each: `test/services/generated.test.ts`). See `support/generated.ts`.
 */
import { generatedSuites } from "./support/generated.js"

generatedSuites(Number(process.env.EAC_GENERATED_RUNS ?? 2_000))
