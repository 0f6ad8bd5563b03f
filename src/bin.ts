#!/usr/bin/env node
/**
 * The command line: `effect-aws-credentials explain [--profile NAME] [--region NAME] [--json]`.
 *
 * Exit status: 0 credentials resolved, 1 no source had any (`NoCredentialsFound`), 2 a source
 * was configured but broken (`CredentialsError`).
 *
 * @since 0.1.0
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as NodeCommandExecutor from "@effect/platform-node/NodeCommandExecutor"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodePath from "@effect/platform-node/NodePath"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as NodeTerminal from "@effect/platform-node/NodeTerminal"
import * as Console from "effect/Console"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Option from "effect/Option"
import { explain, formatHuman } from "./internal/explain.js"

// The AWS SDK (loaded only for remote sources) warns once per process that its releases after
// January 2027 need Node 22; on a command line that is noise around the report. Its documented
// switch (aws/aws-sdk-js-v3#7983) turns it off unless the user set it themselves.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true"

const environmentHelp = [
  "Walks the default credential chain as an application would and shows every source tried,",
  "its outcome, why, and how long it took; the winning source with its keys masked; and the",
  "region and where it came from. No secret is ever printed.",
  "",
  "Chain order (botocore's): explicit keys, env, assume-role, assume-role-with-web-identity,",
  "sso, shared-credentials-file, login, custom-process, config-file, ec2-credentials-file,",
  "boto-config, container-role, iam-role.",
  "",
  "Environment variables honoured:",
  "  AWS_PROFILE, AWS_DEFAULT_PROFILE       the profile (when --profile is not given)",
  "  AWS_CONFIG_FILE                        the config file (default ~/.aws/config)",
  "  AWS_SHARED_CREDENTIALS_FILE            the credentials file (default ~/.aws/credentials)",
  "  AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN (or AWS_SECURITY_TOKEN),",
  "  AWS_CREDENTIAL_EXPIRATION, AWS_ACCOUNT_ID                     the env source",
  "  AWS_WEB_IDENTITY_TOKEN_FILE, AWS_ROLE_ARN, AWS_ROLE_SESSION_NAME  web identity",
  "  AWS_STS_REGIONAL_ENDPOINTS, AWS_ENDPOINT_URL_STS, AWS_ENDPOINT_URL_SSO,",
  "  AWS_ENDPOINT_URL_SSO_OIDC, AWS_ENDPOINT_URL_SIGNIN, AWS_ENDPOINT_URL,",
  "  AWS_IGNORE_CONFIGURED_ENDPOINT_URLS, AWS_USE_FIPS_ENDPOINT, AWS_USE_DUALSTACK_ENDPOINT",
  "                                         STS, SSO and sign-in endpoints",
  "  AWS_LOGIN_CACHE_DIRECTORY              the aws login cache (default ~/.aws/login/cache)",
  "  AWS_CREDENTIAL_FILE                    the ec2-credentials-file source",
  "  BOTO_CONFIG                            the boto-config source (else /etc/boto.cfg, ~/.boto)",
  "  AWS_CONTAINER_CREDENTIALS_RELATIVE_URI, AWS_CONTAINER_CREDENTIALS_FULL_URI,",
  "  AWS_CONTAINER_AUTHORIZATION_TOKEN, AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE  container-role",
  "  AWS_EC2_METADATA_DISABLED, AWS_EC2_METADATA_SERVICE_ENDPOINT,",
  "  AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE, AWS_EC2_METADATA_V1_DISABLED,",
  "  AWS_METADATA_SERVICE_TIMEOUT, AWS_METADATA_SERVICE_NUM_ATTEMPTS   iam-role (instance metadata)",
  "  AWS_REGION, AWS_DEFAULT_REGION         the region (when --region is not given)",
  "  HOME                                   where ~ is",
  "",
  "Exit status: 0 resolved, 1 no credentials found, 2 a source is configured but broken."
].join("\n")

const profile = Options.text("profile").pipe(
  Options.withDescription("Use this profile (as if named in code: environment credentials are then skipped)."),
  Options.optional
)
const region = Options.text("region").pipe(
  Options.withDescription("Use this region instead of AWS_REGION, AWS_DEFAULT_REGION or the profile's."),
  Options.optional
)
const json = Options.boolean("json").pipe(
  Options.withDescription("Print exactly one JSON object on stdout instead of the table.")
)

const explainCommand = Command.make("explain", { profile, region, json }, (args) =>
  Effect.gen(function*() {
    const explanation = yield* explain({
      profile: Option.getOrUndefined(args.profile),
      region: Option.getOrUndefined(args.region)
    })
    if (args.json) {
      yield* Console.log(JSON.stringify(explanation.report, null, 2))
    } else {
      yield* Console.log(formatHuman(explanation, yield* DateTime.now))
    }
    process.exitCode = explanation.exitCode
  })).pipe(Command.withDescription(environmentHelp))

const cli = Command.make("effect-aws-credentials").pipe(
  Command.withDescription("The AWS credential provider chain for Effect: see where credentials come from."),
  Command.withSubcommands([explainCommand]),
  Command.run({ name: "effect-aws-credentials", version: "0.1.0" })
)

const MainLive = Layer.mergeAll(
  NodeFileSystem.layer,
  NodePath.layer,
  NodeTerminal.layer,
  NodeCommandExecutor.layer.pipe(Layer.provide(NodeFileSystem.layer)),
  // Log lines (refresh warnings, debug output) go to stderr: stdout is for the report.
  Logger.replace(Logger.defaultLogger, Logger.withConsoleError(Logger.logfmtLogger))
)

cli(process.argv).pipe(
  Effect.provide(MainLive),
  // runMain's own pretty logger writes to stdout; ours (above) is the only one.
  NodeRuntime.runMain({ disableErrorReporting: false, disablePrettyLogger: true })
)
