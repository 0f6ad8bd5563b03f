/**
 * The command line's arguments and help: Node's `util.parseArgs` in strict mode, one pass over
 * all the arguments so that global options work before or after the command, and help texts of
 * our own (no parser boilerplate; styled only on a terminal that wants it).
 */
import { parseArgs } from "node:util"

/** The program's name, as USAGE and every error line say it. */
export const program = "effect-aws-credentials"

/** The version `--version` prints (the package's). */
export const version = "0.1.0"

/** The exit status of a usage error (sysexits' EX_USAGE). */
export const usageStatus = 64

export const commands = ["explain", "list-profiles", "export-credentials"] as const
export type CommandName = typeof commands[number]

export const exportFormats = ["process", "json", "env", "env-no-export"] as const
export type ExportFormat = typeof exportFormats[number]

export type Parsed =
  | { readonly _tag: "Help"; readonly command: CommandName | undefined }
  | { readonly _tag: "Version" }
  | { readonly _tag: "Usage"; readonly message: string; readonly command: CommandName | undefined }
  | {
    readonly _tag: "Explain"
    readonly profile: string | undefined
    readonly region: string | undefined
    readonly json: boolean
    readonly verify: boolean
  }
  | { readonly _tag: "ListProfiles" }
  | {
    readonly _tag: "ExportCredentials"
    readonly profile: string | undefined
    readonly region: string | undefined
    readonly format: ExportFormat
  }

const options = {
  profile: { type: "string" },
  region: { type: "string" },
  json: { type: "boolean" },
  verify: { type: "boolean" },
  format: { type: "string" },
  help: { type: "boolean", short: "h" },
  version: { type: "boolean" }
} as const

/** Which command-specific options each command takes (`--profile`, `--region` are global). */
const commandOptions: Record<CommandName, ReadonlyArray<"json" | "verify" | "format">> = {
  "explain": ["json", "verify"],
  "list-profiles": [],
  "export-credentials": ["format"]
}

/** parseArgs' messages are long and name its own syntax; one short clause each instead. */
const describeParseError = (error: unknown): string => {
  const code = typeof error === "object" && error !== null && "code" in error ? error.code : undefined
  const message = error instanceof Error ? error.message : String(error)
  const option = /'(-[^' ]*)/.exec(message)?.[1] ?? "an option"
  switch (code) {
    case "ERR_PARSE_ARGS_UNKNOWN_OPTION":
      return `unknown option ${option}`
    case "ERR_PARSE_ARGS_INVALID_OPTION_VALUE":
      return /does not take an argument/.test(message)
        ? `option ${option} takes no value`
        : `option ${option} needs a value`
    default:
      return message.split("\n")[0]!
  }
}

const isCommand = (name: string | undefined): name is CommandName =>
  name !== undefined && (commands as ReadonlyArray<string>).includes(name)

/** Parses the arguments after the program's name. Never throws: a usage error is a value. */
export const parse = (args: ReadonlyArray<string>): Parsed => {
  let parsed: ReturnType<typeof parseArgs<{ options: typeof options; strict: true; allowPositionals: true }>>
  try {
    parsed = parseArgs({ args: [...args], options, strict: true, allowPositionals: true })
  } catch (error) {
    const first = args.find((arg) => !arg.startsWith("-"))
    return { _tag: "Usage", message: describeParseError(error), command: isCommand(first) ? first : undefined }
  }
  const { positionals, values } = parsed
  const [name, ...extra] = positionals
  const command = isCommand(name) ? name : undefined
  if (name !== undefined && command === undefined) {
    return { _tag: "Usage", message: `unknown command '${name}' (commands: ${commands.join(", ")})`, command }
  }
  if (values.help === true) return { _tag: "Help", command }
  if (values.version === true) return { _tag: "Version" }
  if (command === undefined) {
    return { _tag: "Usage", message: `a command is needed (${commands.join(", ")})`, command }
  }
  if (extra.length > 0) return { _tag: "Usage", message: `unexpected argument '${extra[0]}'`, command }
  for (const key of ["json", "verify", "format"] as const) {
    if (values[key] !== undefined && !commandOptions[command].includes(key)) {
      return { _tag: "Usage", message: `option --${key} does not apply to ${command}`, command }
    }
  }
  for (const key of ["profile", "region", "format"] as const) {
    if (values[key] === "") return { _tag: "Usage", message: `option --${key} needs a value`, command }
  }
  switch (command) {
    case "explain":
      return {
        _tag: "Explain",
        profile: values.profile,
        region: values.region,
        json: values.json === true,
        verify: values.verify === true
      }
    case "list-profiles":
      return { _tag: "ListProfiles" }
    case "export-credentials": {
      const format = values.format ?? "process"
      if (!(exportFormats as ReadonlyArray<string>).includes(format)) {
        return {
          _tag: "Usage",
          message: `option --format must be one of ${exportFormats.join(", ")}, not '${format}'`,
          command
        }
      }
      return { _tag: "ExportCredentials", profile: values.profile, region: values.region, format: format as ExportFormat }
    }
  }
}

/** The one line a usage error prints on stderr. */
export const usageLine = (usage: { readonly message: string; readonly command: CommandName | undefined }): string =>
  `${program}: ${usage.message}; see '${program}${usage.command === undefined ? "" : ` ${usage.command}`} --help' for more`

/**
 * Whether help may be styled: only on a terminal, and not under `NO_COLOR` (any non-empty
 * value, as no-color.org says) or `TERM=dumb`.
 */
export const colorAllowed = (
  isTTY: boolean | undefined,
  env: { readonly NO_COLOR?: string | undefined; readonly TERM?: string | undefined }
): boolean => isTTY === true && (env.NO_COLOR ?? "") === "" && env.TERM !== "dumb"

const exitStatus = [
  "Exit status:",
  "  0   success",
  "  1   no credentials found (explain, export-credentials)",
  "  2   a source is configured but broken, a profile does not exist, or a file does not parse",
  "  3   explain --verify: the credentials resolved, and AWS refused them",
  `  ${usageStatus}  usage error: an unknown option or command, or an option without its value`
]

const globalOptions = [
  "Global options (before or after the command):",
  "  --profile NAME    use this profile, as if named in code (environment credentials are then skipped)",
  "  --region NAME     use this region instead of AWS_REGION, AWS_DEFAULT_REGION or the profile's",
  "  -h, --help        show this help; COMMAND --help shows the command's",
  "  --version         print the version"
]

const environment = [
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
  "  NO_COLOR, TERM=dumb                    no styling in --help",
  "  HOME                                   where ~ is"
]

const chainOrder = [
  "Chain order (botocore's): explicit keys, env, assume-role, assume-role-with-web-identity,",
  "sso, shared-credentials-file, login, custom-process, config-file, ec2-credentials-file,",
  "boto-config, container-role, iam-role."
]

const helpTexts: Record<CommandName | "main", ReadonlyArray<string>> = {
  main: [
    `USAGE  ${program} COMMAND [--profile NAME] [--region NAME] [options]`,
    "",
    "The AWS credential provider chain for Effect (botocore's order): see where credentials come from.",
    "",
    "Commands:",
    "  explain               walk the default chain; show every source tried and why (never a secret)",
    "  list-profiles         print every profile name of the config and credentials files",
    "  export-credentials    resolve the chain and print the credentials (PRINTS SECRETS)",
    "",
    ...globalOptions,
    "",
    ...exitStatus
  ],
  explain: [
    `USAGE  ${program} explain [--profile NAME] [--region NAME] [--json] [--verify]`,
    "",
    "Walks the default credential chain as an application would and shows every source tried,",
    "its outcome, why, and how long it took; the winning source with its keys masked; and the",
    "region and where it came from. No secret is ever printed. On a terminal, a source that",
    "waits for more than a second says on stderr what it waits for.",
    "",
    "Options:",
    "  --json            print exactly one JSON object on stdout instead of the table",
    "  --verify          ask AWS whether the credentials work (STS GetCallerIdentity, through the",
    "                    session's STS endpoint and region) and show whose they are",
    "",
    ...globalOptions,
    "",
    ...chainOrder,
    "",
    ...environment,
    "",
    ...exitStatus
  ],
  "list-profiles": [
    `USAGE  ${program} list-profiles`,
    "",
    "Prints the name of every profile the config file ([default], [profile NAME]) and the",
    "credentials file ([NAME]) define, one per line, config file first, each name once, as",
    "`aws configure list-profiles` does. A file that does not parse is reported on stderr",
    "with its path and line (exit status 2).",
    "",
    ...globalOptions,
    "",
    "Environment variables: AWS_CONFIG_FILE, AWS_SHARED_CREDENTIALS_FILE, HOME.",
    "",
    ...exitStatus
  ],
  "export-credentials": [
    `USAGE  ${program} export-credentials [--profile NAME] [--format process|json|env|env-no-export]`,
    "",
    "Resolves the default chain as an application would and prints the credentials, secrets",
    "included, in the formats of `aws configure export-credentials`. This is the one command",
    "that prints secrets, because you asked for them: keep its output out of logs.",
    "",
    "Options:",
    "  --format process        (default) the JSON a credential_process prints:",
    "                          Version, AccessKeyId, SecretAccessKey, SessionToken, Expiration",
    "  --format json           the same JSON",
    "  --format env            export AWS_ACCESS_KEY_ID=... lines for a POSIX shell",
    "  --format env-no-export  the same lines without `export `",
    "",
    "As a credential_process for another tool:",
    `  credential_process = ${program} export-credentials --profile base`,
    "",
    ...globalOptions,
    "",
    ...exitStatus
  ]
}

const bold = (text: string) => `\u001b[1m${text}\u001b[0m`

/** The help for the program or a command; headings in bold when `color`. */
export const help = (command: CommandName | undefined, color: boolean): string =>
  helpTexts[command ?? "main"].map((line) =>
    !color
      ? line
      : line.startsWith("USAGE  ")
      ? `${bold("USAGE")}  ${line.slice("USAGE  ".length)}`
      : /^[A-Z][^ ].*:$/.test(line) || /^[A-Z][a-z ]+\(.*\):$/.test(line)
      ? bold(line)
      : line
  ).join("\n") + "\n"
