#!/usr/bin/env node
/**
 * The command line: `effect-aws-credentials explain | list-profiles | export-credentials`, with
 * `--profile NAME` and `--region NAME` before or after the command (see `--help`).
 *
 * Exit status: 0 success, 1 no source had any credentials (`NoCredentialsFound`), 2 a source was
 * configured but broken, a profile does not exist or a file does not parse (`CredentialsError`),
 * 3 `explain --verify`: the credentials resolved and AWS refused them, 64 a usage error.
 *
 * @since 0.1.0
 */
import * as NodeCommandExecutor from "@effect/platform-node/NodeCommandExecutor"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as AwsSession from "./AwsSession.js"
import * as Args from "./internal/cliArgs.js"
import { explain, formatHuman } from "./internal/explain.js"
import * as Export from "./internal/exportCredentials.js"
import { withProgress } from "./internal/progress.js"
import { escapeControls } from "./internal/scrub.js"

// The AWS SDK (loaded only for remote sources) warns once per process that its releases after
// January 2027 need Node 22; on a command line that is noise around the report. Its documented
// switch (aws/aws-sdk-js-v3#7983) turns it off unless the user set it themselves.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true"

const out = (text: string) => Effect.sync(() => void process.stdout.write(text))
/** One line on stderr, prefixed with the program's name, nothing from outside unescaped. */
const complain = (message: string) =>
  Effect.sync(() => void process.stderr.write(`${Args.program}: ${escapeControls(message.replace(/\n/g, " "))}\n`))
const exitWith = (status: number) => Effect.sync(() => void (process.exitCode = status))

/** The terminal's width for the report, when stdout is one; else nothing is wrapped. */
const reportWidth = (): number | undefined => process.stdout.isTTY === true ? process.stdout.columns : undefined

/** The progress line goes to stderr, and only when stderr is a terminal. */
const progress = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  process.stderr.isTTY === true
    ? withProgress(effect, (text) => void process.stderr.write(text), { width: process.stderr.columns })
    : effect

const runExplain = (args: Omit<Extract<Args.Parsed, { readonly _tag: "Explain" }>, "_tag">) =>
  Effect.gen(function*() {
    const run = explain({ profile: args.profile, region: args.region, verify: args.verify })
    // No progress line with --json: stdout and stderr stay machine-readable.
    const explanation = yield* (args.json ? run : progress(run))
    yield* out(
      args.json
        ? `${JSON.stringify(explanation.report, null, 2)}\n`
        : `${formatHuman(explanation, yield* DateTime.now, { width: reportWidth() })}\n`
    )
    yield* exitWith(explanation.exitCode)
  })

const runListProfiles = AwsSession.loadFiles().pipe(
  Effect.flatMap((files) => out([...files.profiles.profiles.keys()].map((name) => `${escapeControls(name)}\n`).join(""))),
  Effect.catchTag("CredentialsError", (error) => Effect.zipRight(complain(error.message), exitWith(2)))
)

const runExport = (args: { readonly profile: string | undefined; readonly region: string | undefined; readonly format: Args.ExportFormat }) =>
  Effect.gen(function*() {
    const selected = yield* AwsSession.selectProfile(args)
    // A credential_process that runs this command again for the same profile would start
    // itself forever: the chain of profiles being exported is passed down to child processes.
    const chain = yield* Export.recursionBarrier(selected.name, process.env[Export.recursionVariable])
    process.env[Export.recursionVariable] = chain
    const credentials = yield* progress(Export.resolve(args))
    yield* out(Export.render(credentials, args.format))
  }).pipe(
    Effect.catchTags({
      NoCredentialsFound: (error) =>
        Effect.zipRight(Effect.sync(() => void process.stderr.write(`${escapeControls(error.message)}\n`)), exitWith(1)),
      CredentialsError: (error) => Effect.zipRight(complain(error.message), exitWith(2))
    })
  )

const main = (parsed: Args.Parsed) => {
  switch (parsed._tag) {
    case "Usage":
      return Effect.zipRight(
        Effect.sync(() => void process.stderr.write(`${Args.usageLine(parsed)}\n`)),
        exitWith(Args.usageStatus)
      )
    case "Help":
      return out(Args.help(parsed.command, Args.colorAllowed(process.stdout.isTTY, process.env)))
    case "Version":
      return out(`${Args.version}\n`)
    case "Explain":
      return runExplain(parsed)
    case "ListProfiles":
      return runListProfiles
    case "ExportCredentials":
      return runExport(parsed)
  }
}

const MainLive = Layer.mergeAll(
  NodeFileSystem.layer,
  NodeCommandExecutor.layer.pipe(Layer.provide(NodeFileSystem.layer)),
  // Log lines (refresh warnings, debug output) go to stderr: stdout is for the report.
  Logger.replace(Logger.defaultLogger, Logger.withConsoleError(Logger.logfmtLogger))
)

main(Args.parse(process.argv.slice(2))).pipe(
  Effect.provide(MainLive),
  // runMain's own pretty logger writes to stdout; ours (above) is the only one.
  NodeRuntime.runMain({ disableErrorReporting: false, disablePrettyLogger: true })
)
