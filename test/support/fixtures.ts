/**
 * Shared test fixtures: a temporary home directory with writers for `.aws/config`,
 * `.aws/credentials` and small scripts, an environment map read through `ConfigProvider`
 * (never `process.env`), and helpers that build a credentials layer on Node's file system and
 * process runner and hand back the `Exit`.
 */
import type * as CommandExecutor from "@effect/platform/CommandExecutor"
import type * as FileSystem from "@effect/platform/FileSystem"
import * as NodeCommandExecutor from "@effect/platform-node/NodeCommandExecutor"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as Cause from "effect/Cause"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as HashMap from "effect/HashMap"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import { execFile } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { AwsCredentials } from "../../src/AwsCredentials.js"
import * as AwsSession from "../../src/AwsSession.js"
import * as CredentialChain from "../../src/CredentialChain.js"
import type * as Credentials from "../../src/Credentials.js"
import type { Attempt, CredentialsError } from "../../src/CredentialsError.js"

/** Environment variables as the library sees them (through `Config`). */
export type Env = Readonly<Record<string, string>>

/** A temporary directory that stands in for the user's home. */
export interface TempHome {
  /** The directory; `env()` sets `HOME` to it. */
  readonly dir: string
  /** `<dir>/.aws/config` (written by `writeConfig`). */
  readonly configPath: string
  /** `<dir>/.aws/credentials` (written by `writeCredentials`). */
  readonly credentialsPath: string
  /** Writes a file under `dir`, creating directories; returns its absolute path. */
  readonly write: (relative: string, content: string | Uint8Array) => string
  readonly writeConfig: (text: string) => string
  readonly writeCredentials: (text: string) => string
  /** Writes an executable `/bin/sh` script under `dir`; returns its absolute path. */
  readonly script: (name: string, body: string) => string
  /** The environment with `HOME` set to `dir`, plus `vars`. */
  readonly env: (vars?: Env) => Env
  readonly remove: () => void
}

/** Creates a temporary home (remember to `remove` it; `tempHome` does that for a scope). */
export const makeTempHome = (): TempHome => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "eac-"))
  const write = (relative: string, content: string | Uint8Array): string => {
    const file = path.join(dir, relative)
    fs.mkdirSync(path.dirname(file), { recursive: true })
    fs.writeFileSync(file, content)
    return file
  }
  return {
    dir,
    configPath: path.join(dir, ".aws", "config"),
    credentialsPath: path.join(dir, ".aws", "credentials"),
    write,
    writeConfig: (text) => write(path.join(".aws", "config"), text),
    writeCredentials: (text) => write(path.join(".aws", "credentials"), text),
    script: (name, body) => {
      const file = write(name, `#!/bin/sh\n${body}\n`)
      fs.chmodSync(file, 0o755)
      return file
    },
    // The instance metadata service is off unless a test turns it on against its own server.
    env: (vars = {}) => ({ HOME: dir, AWS_EC2_METADATA_DISABLED: "true", ...vars }),
    remove: () => fs.rmSync(dir, { recursive: true, force: true })
  }
}

/** A temporary home removed when the scope closes. */
export const tempHome: Effect.Effect<TempHome, never, Scope.Scope> = Effect.acquireRelease(
  Effect.sync(makeTempHome),
  (home) => Effect.sync(home.remove)
)

/** Runs `self` with `env` as the only environment the library can see. */
export const withEnv = (env: Env) => <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.withConfigProvider(self, ConfigProvider.fromMap(new Map(Object.entries(env))))

/** What the sources need from the platform. */
export type Platform = FileSystem.FileSystem | CommandExecutor.CommandExecutor

/** Node's file system and process runner. */
export const platformLayer: Layer.Layer<Platform> = Layer.merge(
  NodeFileSystem.layer,
  NodeCommandExecutor.layer.pipe(Layer.provide(NodeFileSystem.layer))
)

/**
 * The default chain's twelve links in botocore's order, written out here (not taken from
 * `Credentials.sources`) so that the tests check the order against a list of their own.
 */
export const defaultChainLinks = [
  "env",
  "assume-role",
  "assume-role-with-web-identity",
  "sso",
  "shared-credentials-file",
  "login",
  "custom-process",
  "config-file",
  "ec2-credentials-file",
  "boto-config",
  "container-role",
  "iam-role"
] as const satisfies ReadonlyArray<Credentials.Source>

/** One link of the default chain. */
export type DefaultChainLink = typeof defaultChainLinks[number]

/**
 * The default chain for tests: boto's default files point into the temporary home (so
 * `/etc/boto.cfg` is never read) and `credential_process` gets a short timeout; the other
 * sources' options are passed through.
 */
export const defaultChain = (
  home: TempHome,
  options: CredentialChain.DefaultOptions = {}
): Layer.Layer<AwsCredentials, CredentialChain.ChainError, CredentialChain.DefaultRequirements> =>
  CredentialChain.layerDefaultWith({
    ...options,
    process: { timeout: "5 seconds", ...options.process },
    botoConfig: { defaultPaths: [path.join(home.dir, "etc", "boto.cfg"), "~/.boto"], ...options.botoConfig }
  })

/** How to run a credentials layer. */
export interface RunOptions {
  readonly env: Env
  /** Options of the session the layer is given (`AwsSession.layer(session)`). */
  readonly session?: AwsSession.Options
}

/**
 * Builds `layer` on a session from `options.session` and Node's platform, under `options.env`,
 * runs `use` with it and returns the `Exit` (the layer's failure or `use`'s).
 */
export const runWith = <A, E1, E2>(
  layer: Layer.Layer<AwsCredentials, E1, AwsSession.AwsSession | Platform>,
  options: RunOptions,
  use: Effect.Effect<A, E2, AwsCredentials | AwsSession.AwsSession>
): Effect.Effect<Exit.Exit<A, E1 | E2 | CredentialsError>> =>
  use.pipe(
    Effect.provide(
      Layer.provideMerge(layer, AwsSession.layer(options.session)).pipe(Layer.provide(platformLayer))
    ),
    withEnv(options.env),
    Effect.exit
  )

/** Credentials a layer resolved, with the attempts that led to them. */
export interface Resolved {
  readonly credentials: Credentials.Credentials
  readonly attempts: ReadonlyArray<Attempt>
}

/** The current credentials and attempts of the `AwsCredentials` service. */
export const current: Effect.Effect<Resolved, CredentialsError, AwsCredentials> = Effect.gen(function*() {
  const service = yield* AwsCredentials
  const credentials = yield* service.get
  return { credentials, attempts: service.attempts }
})

/** Builds `layer` (see `runWith`) and gets credentials once. */
export const resolveWith = <E>(
  layer: Layer.Layer<AwsCredentials, E, AwsSession.AwsSession | Platform>,
  options: RunOptions
): Effect.Effect<Exit.Exit<Resolved, E | CredentialsError>> => runWith(layer, options, current)

/** The success value of an exit, or a test failure showing the cause. */
export const getSuccess = <A, E>(exit: Exit.Exit<A, E>): A => {
  if (Exit.isSuccess(exit)) return exit.value
  throw new Error(`expected success, got:\n${Cause.pretty(exit.cause)}`)
}

/** The typed error of a failed exit, or a test failure. */
export const getFailure = <A, E>(exit: Exit.Exit<A, E>): E => {
  if (Exit.isFailure(exit)) {
    const error = Cause.failureOption(exit.cause)
    if (Option.isSome(error)) return error.value
    throw new Error(`expected a typed failure, got:\n${Cause.pretty(exit.cause)}`)
  }
  throw new Error(`expected a failure, got success: ${String(exit.value)}`)
}

/** `[source, outcome]` of each attempt, for order assertions. */
export const outcomes = (attempts: ReadonlyArray<Attempt>): ReadonlyArray<readonly [string, string]> =>
  attempts.map((attempt) => [attempt.source, attempt.outcome] as const)

/** The JSON a credential process prints. */
export const processJson = (fields: Record<string, unknown>): string =>
  JSON.stringify({ Version: 1, ...fields })

/** A shell single-quoted literal (for `printf '%s' ...` in scripts). */
export const shellQuote = (text: string): string => `'${text.replace(/'/g, `'\\''`)}'`

/** A log line as a user's logger would see it. */
export interface LogLine {
  readonly level: LogLevel.LogLevel
  readonly message: string
  readonly annotations: Readonly<Record<string, unknown>>
  /** The whole line as `Logger.logfmtLogger` renders it (message, annotations, spans). */
  readonly rendered: string
}

/**
 * Runs `self` with every log line (from `Debug` up) captured instead of printed; returns what
 * `self` returned (as an `Exit`) and the lines.
 */
export const withCapturedLogs = <A, E, R>(
  self: Effect.Effect<A, E, R>
): Effect.Effect<readonly [Exit.Exit<A, E>, ReadonlyArray<LogLine>], never, R> =>
  Effect.suspend(() => {
    const lines: Array<LogLine> = []
    const logger = Logger.make((options) => {
      const message = Array.isArray(options.message) ? options.message.map(String).join(" ") : String(options.message)
      lines.push({
        level: options.logLevel,
        message,
        annotations: Object.fromEntries(HashMap.toEntries(options.annotations)),
        rendered: Logger.logfmtLogger.log(options)
      })
    })
    return self.pipe(
      Effect.exit,
      Effect.provide(Logger.replace(Logger.defaultLogger, logger)),
      Logger.withMinimumLogLevel(LogLevel.Debug),
      Effect.map((exit) => [exit, lines] as const)
    )
  })

/** What a child process did. */
export interface ChildResult {
  readonly status: number
  readonly stdout: string
  readonly stderr: string
}

/** The repository's root (for running its files as users do). */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..")

/**
 * Runs a TypeScript file of the repository with `tsx`, as a user runs `npx tsx <file>`, with
 * only `PATH` from this process's environment, instance metadata off and the SDK's Node version
 * warning silenced, plus `env`.
 */
export const runTsx = (
  file: string,
  args: ReadonlyArray<string>,
  env: Record<string, string>,
  options: { readonly timeoutMs?: number } = {}
): Promise<ChildResult> =>
  new Promise((resolve) => {
    execFile(
      path.join(repoRoot, "node_modules", ".bin", "tsx"),
      // The repository's files import the package by its name; this condition resolves it to the
      // sources (package.json "exports"), as `npm run demo` does.
      ["--conditions=effect-aws-credentials-source", path.join(repoRoot, file), ...args],
      {
        env: {
          PATH: process.env.PATH,
          AWS_EC2_METADATA_DISABLED: "true",
          AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
          ...env
        },
        encoding: "utf8",
        timeout: options.timeoutMs ?? 60_000
      },
      (error, stdout, stderr) =>
        resolve({ status: error === null ? 0 : typeof error.code === "number" ? error.code : -1, stdout, stderr })
    )
  })
