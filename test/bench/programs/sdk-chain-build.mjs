// sdk-chain.mjs timed from the inside: the first call of fromNodeProviderChain(), after the
// imports (static imports are evaluated before this module's body runs).
import { fromNodeProviderChain } from "@aws-sdk/credential-providers"

const start = performance.now()
const credentials = await fromNodeProviderChain()()
const ms = performance.now() - start
console.log(JSON.stringify({ ms, source: credentials.accessKeyId.slice(0, 4) }))
