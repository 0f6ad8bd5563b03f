/**
 * A program that never writes Effect: `fromChain()` from the package's `sdk` subpath, asked once,
 * then (with the argument `dispose`) disposed. It prints one JSON line: the access key, whether
 * an expiration came with it, and the handles still keeping the process alive. Then it simply
 * ends: a timer or socket left behind would keep it running, and the test that runs it notices.
 */
import { fromChain } from "effect-aws-credentials/sdk"

const provider = fromChain()
const identity = await provider()
if (process.argv[2] === "dispose") await provider.dispose()
console.log(JSON.stringify({
  accessKeyId: identity.accessKeyId,
  expiration: identity.expiration?.toISOString() ?? null,
  resources: process.getActiveResourcesInfo()
}))
