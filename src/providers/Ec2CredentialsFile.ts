/**
 * The credential file of the original EC2 command line tools (botocore's
 * `ec2-credentials-file`): `AWS_CREDENTIAL_FILE` names a file of `AWSAccessKeyId=...` and
 * `AWSSecretKey=...` lines. It holds no session token.
 *
 * @since 0.1.0
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import type * as Layer from "effect/Layer"
import type { AwsCredentials } from "../AwsCredentials.js"
import type * as Credentials from "../Credentials.js"
import type { CredentialsError, CredentialsUnavailable } from "../CredentialsError.js"
import { fetchCredentials } from "../internal/ec2CredentialsFile.js"
import { sourceLayer } from "../internal/provider.js"

const source = "ec2-credentials-file" satisfies Credentials.Source

/**
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<AwsCredentials, CredentialsUnavailable | CredentialsError, FileSystem.FileSystem> =
  sourceLayer(source, fetchCredentials)
