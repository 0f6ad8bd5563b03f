// The same with the AWS SDK for JavaScript: fromEnv().
import { fromEnv } from "@aws-sdk/credential-providers"

const credentials = await fromEnv()()
console.log("env", credentials.accessKeyId)
