/**
 * A program that never writes Effect: botocore's chain as the `credentials:` of an AWS SDK v3
 * client, from the `effect-aws-credentials/sdk` subpath, with plain promises.
 *
 *   npm run example -- examples/without-effect.ts
 *     prints the access key the chain found (shortened, never the secret) and its expiry, or, when the
 *     machine has none, every link of the chain tried and why, with exit status 1.
 *   AWS_ENDPOINT_URL=http://127.0.0.1:5000 npm run example -- examples/without-effect.ts
 *     also lists the buckets of that S3 endpoint (moto: `python3 -m moto.server -p 5000`) through
 *     an `S3Client` signing with the chain's credentials. Without an endpoint nothing is sent.
 *
 * The JS SDK's equivalent is `fromNodeProviderChain()` from `@aws-sdk/credential-providers`.
 */
import { ListBucketsCommand, S3Client } from "@aws-sdk/client-s3"
import { fromChain } from "effect-aws-credentials/sdk"

const credentials = fromChain()
try {
  const identity = await credentials()
  const expires = identity.expiration === undefined ? "never expire" : `expire at ${identity.expiration.toISOString()}`
  console.log(`Credentials ${identity.accessKeyId.slice(0, 4)}...${identity.accessKeyId.slice(-4)}, which ${expires}`)
  const endpoint = process.env.AWS_ENDPOINT_URL
  if (endpoint !== undefined && endpoint !== "") {
    const s3 = new S3Client({ endpoint, forcePathStyle: true, region: process.env.AWS_REGION ?? "us-east-1", credentials })
    try {
      const { Buckets } = await s3.send(new ListBucketsCommand({}))
      console.log(`S3 at ${endpoint}: ${Buckets?.length ?? 0} bucket(s)`)
    } finally {
      s3.destroy()
    }
  }
} catch (error) {
  // A CredentialsProviderError: its message lists every link tried and why; `cause` is the
  // typed error (NoCredentialsFound or CredentialsError) for programs that branch on it.
  console.error(error instanceof Error ? error.message : String(error))
  process.exitCode = 1
} finally {
  // Stops the background refresh; a script that forgets it still exits.
  await credentials.dispose()
}
