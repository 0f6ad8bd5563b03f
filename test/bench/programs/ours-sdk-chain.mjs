// The same as sdk-chain.mjs with this package's subpath for programs without Effect:
// fromChain() from `effect-aws-credentials/sdk`, asked once, then disposed.
import { fromChain } from "effect-aws-credentials/sdk"

const provider = fromChain()
const credentials = await provider()
await provider.dispose()
console.log("chain", credentials.accessKeyId)
