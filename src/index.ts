/**
 * effect-aws-credentials: the AWS credential provider chain for Effect.
 *
 * @since 0.1.0
 */

/** @since 0.1.0 */
export * as AwsClient from "./AwsClient.js"
/** @since 0.1.0 */
export * as AwsCredentials from "./AwsCredentials.js"
/** @since 0.1.0 */
export * as AwsRegion from "./AwsRegion.js"
/** @since 0.1.0 */
export * as AwsSession from "./AwsSession.js"
/** @since 0.1.0 */
export * as CredentialChain from "./CredentialChain.js"
/** @since 0.1.0 */
export * as Credentials from "./Credentials.js"
/** @since 0.1.0 */
export * as CredentialsCache from "./CredentialsCache.js"
/** @since 0.1.0 */
export * as CredentialsError from "./CredentialsError.js"
/** @since 0.1.0 */
export * as ProfileFile from "./ProfileFile.js"
/** @since 0.1.0 */
export * as S3 from "./S3.js"
/** @since 0.1.0 */
export * as MfaTokenProvider from "./MfaTokenProvider.js"
/** @since 0.1.0 */
export * as AssumeRole from "./providers/AssumeRole.js"
/** @since 0.1.0 */
export * as BotoConfig from "./providers/BotoConfig.js"
/** @since 0.1.0 */
export * as ConfigFile from "./providers/ConfigFile.js"
/** @since 0.1.0 */
export * as ContainerCredentials from "./providers/ContainerCredentials.js"
/** @since 0.1.0 */
export * as Ec2CredentialsFile from "./providers/Ec2CredentialsFile.js"
/** @since 0.1.0 */
export * as EnvCredentials from "./providers/EnvCredentials.js"
/** @since 0.1.0 */
export * as InstanceMetadata from "./providers/InstanceMetadata.js"
/** @since 0.1.0 */
export * as LoginCredentials from "./providers/LoginCredentials.js"
/** @since 0.1.0 */
export * as ProcessCredentials from "./providers/ProcessCredentials.js"
/** @since 0.1.0 */
export * as SharedCredentialsFile from "./providers/SharedCredentialsFile.js"
/** @since 0.1.0 */
export * as SsoCredentials from "./providers/SsoCredentials.js"
/** @since 0.1.0 */
export * as WebIdentity from "./providers/WebIdentity.js"
