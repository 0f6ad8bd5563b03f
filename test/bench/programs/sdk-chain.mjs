// The same with the AWS SDK for JavaScript: fromNodeProviderChain().
import { fromNodeProviderChain } from "@aws-sdk/credential-providers"

const credentials = await fromNodeProviderChain()()
console.log("chain", credentials.accessKeyId)
