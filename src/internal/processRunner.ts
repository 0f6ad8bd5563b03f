/**
 * Running a `credential_process` and decoding what it prints: the `custom-process` source's
 * fetch for the active profile, and assume-role's for a source profile.
 */
import * as Command from "@effect/platform/Command"
import type * as CommandExecutor from "@effect/platform/CommandExecutor"
import * as Clock from "effect/Clock"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { split } from "shlex"
import { AwsSession } from "../AwsSession.js"
import * as Credentials from "../Credentials.js"
import { CredentialsError, CredentialsUnavailable } from "../CredentialsError.js"
import * as ProfileFile from "../ProfileFile.js"
import { scrub, scrubValue } from "./scrub.js"
import { parseTimestamp } from "./time.js"
import { decodeJson } from "./untrusted.js"

const source = "custom-process" satisfies Credentials.Source

/** The source's tunables, defaults applied (see `Process.Options`). */
export interface Settings {
  readonly timeout: Duration.Duration
  readonly maxOutputBytes: number
}

export const defaults: Settings = { timeout: Duration.seconds(60), maxOutputBytes: 1024 * 1024 }

/** Settings from the options a user gave. */
export const settingsOf = (options: {
  readonly timeout?: Duration.DurationInput | undefined
  readonly maxOutputBytes?: number | undefined
}): Settings => ({
  timeout: Duration.decode(options.timeout ?? defaults.timeout),
  maxOutputBytes: options.maxOutputBytes ?? defaults.maxOutputBytes
})

export interface RunOptions extends Settings {
  readonly command: string
  readonly profile: string
  readonly path?: string | undefined
  readonly line?: number | undefined
}

const NonEmpty = Schema.String.pipe(Schema.minLength(1))

/** The JSON a credential process prints (version 1 of the format). */
export const ProcessOutput = Schema.Struct({
  Version: Schema.Literal(1),
  AccessKeyId: NonEmpty,
  SecretAccessKey: NonEmpty,
  SessionToken: Schema.optional(Schema.NullOr(Schema.String)),
  Expiration: Schema.optional(Schema.NullOr(Schema.String)),
  AccountId: Schema.optional(Schema.NullOr(Schema.String))
})

const decodeOutput = decodeJson(ProcessOutput)

/** How long the output may stay open after the process exited. */
const outputGrace = Duration.seconds(2)

class OutputHeldOpen {
  readonly _tag = "OutputHeldOpen"
  constructor(readonly exitCode: number) {}
}

class OutputTooLarge {
  readonly _tag = "OutputTooLarge"
  constructor(readonly stream: "stdout" | "stderr") {}
}

class Unstartable {
  readonly _tag = "Unstartable"
  constructor(readonly name: string) {}
}

/** Linux's limit on one argument (`MAX_ARG_STRLEN`). */
const maxArgumentBytes = 128 * 1024

/**
 * A stream's bytes as they arrive, failing once they pass `max` bytes instead of buffering them
 * all. What has arrived stays readable (`text`) when the process is killed midway, so that a
 * timeout can still show what the process wrote to stderr.
 */
const collector = (max: number, name: "stdout" | "stderr") => {
  const chunks: Array<Uint8Array> = []
  let size = 0
  return {
    run: <E>(stream: Stream.Stream<Uint8Array, E>): Effect.Effect<void, E | OutputTooLarge> =>
      Stream.runForEach(stream, (bytes) => {
        if (size + bytes.length > max) return Effect.fail(new OutputTooLarge(name))
        chunks.push(bytes)
        size += bytes.length
        return Effect.void
      }),
    text: (): string => Buffer.concat(chunks).toString("utf8")
  }
}

/**
 * The values a process printed on stdout (strings of its JSON, or `key=value` right-hand sides,
 * whatever it printed), each a secret as far as messages are concerned. Bounded: a flood of
 * output is refused before it gets here.
 */
const stdoutValues = (text: string): Array<string> => {
  const values = new Set<string>()
  const visit = (value: unknown, depth: number) => {
    if (depth > 32) return
    if (typeof value === "string") values.add(value)
    else if (Array.isArray(value)) for (const item of value) visit(item, depth + 1)
    else if (typeof value === "object" && value !== null) for (const item of Object.values(value)) visit(item, depth + 1)
  }
  try {
    visit(JSON.parse(text), 0)
  } catch {
    // Not JSON: every word of it.
  }
  for (const word of text.split(/[\s"',:=;{}[\]]+/)) if (word.length >= 8) values.add(word)
  return [...values]
}

/**
 * The words of `credential_process` (split as a POSIX shell does, like botocore's `shlex`), or
 * why it cannot be run: unbalanced quotes, nothing, or what the operating system refuses to start
 * (Node throws on a NUL; Linux refuses a single argument over 128 KiB with E2BIG).
 */
const argumentsOf = (command: string): Either.Either<readonly [string, ...Array<string>], string> => {
  let argv: Array<string>
  try {
    argv = split(command)
  } catch {
    return Either.left("credential_process cannot be split into arguments (unbalanced quotes?)")
  }
  const [program, ...args] = argv
  if (program === undefined) return Either.left("credential_process is empty")
  const nul = argv.findIndex((word) => word.includes("\u0000"))
  if (nul !== -1) return Either.left(`credential_process holds a NUL character (in word ${nul + 1})`)
  const tooLong = argv.findIndex((word) => Buffer.byteLength(word) >= maxArgumentBytes)
  if (tooLong !== -1) {
    return Either.left(
      `credential_process word ${tooLong + 1} is over ${maxArgumentBytes / 1024} KiB, more than a program can be given`
    )
  }
  return Either.right([program, ...args])
}

/** Runs the process and turns its output into credentials. */
export const run = (
  options: RunOptions
): Effect.Effect<Credentials.Credentials, CredentialsError, CommandExecutor.CommandExecutor> =>
  Effect.gen(function*() {
    const timeout = Duration.decode(options.timeout)
    const maxOutputBytes = options.maxOutputBytes
    const fail = (reason: CredentialsError["reason"], detail: string, cause?: unknown) =>
      new CredentialsError({
        source,
        reason,
        profile: options.profile,
        path: options.path,
        line: options.line,
        detail,
        cause
      })

    const parsed = argumentsOf(options.command)
    if (Either.isLeft(parsed)) return yield* fail("InvalidConfiguration", parsed.left)
    const [program, ...args] = parsed.right
    // Only the program is named in messages: arguments may carry things the user would not
    // want in a log.
    const label = `credential_process "${scrubValue(program, 200)}"`

    const stdout = collector(maxOutputBytes, "stdout")
    const stderr = collector(maxOutputBytes, "stderr")
    /**
     * What the process wrote to stderr, for a message: useful ("MFA device not found", "run aws
     * sso login"), but a helper may also write its JSON or a cached secret there. So it is
     * scrubbed, with every value the process printed on stdout counted as secret too.
     */
    const stderrScrubbed = () => scrub(stderr.text(), { known: stdoutValues(stdout.text()) })
    const stderrText = () => {
      const text = stderrScrubbed()
      return text === "" ? "no output on stderr" : `stderr: ${text}`
    }
    const outcome = yield* Effect.scoped(
      Effect.gen(function*() {
        const process = yield* Command.make(program, ...args).pipe(
          Command.stdin("inherit"),
          Command.start,
          // Whatever else makes the spawn itself throw (the environment, the system's limits).
          Effect.catchAllDefect((defect) => Effect.fail(new Unstartable(defect instanceof Error ? defect.name : "Error")))
        )
        return yield* Effect.gen(function*() {
          const output = yield* Effect.fork(
            Effect.all([stdout.run(process.stdout), stderr.run(process.stderr)], { concurrency: 2 })
          )
          // Whichever comes first: the exit, or the end (or overflow) of the output.
          const first = yield* Effect.raceFirst(
            Effect.map(process.exitCode, (code) => Option.some(code)),
            Effect.as(Fiber.join(output), Option.none<number>())
          )
          if (Option.isNone(first)) return yield* process.exitCode
          // The process has exited; its output ends with it, unless something it started (a
          // daemon it forked) still holds stdout or stderr open. Waiting for that is pointless.
          const drained = yield* Fiber.join(output).pipe(Effect.timeoutOption(outputGrace))
          if (Option.isNone(drained)) return yield* Effect.fail(new OutputHeldOpen(first.value))
          return first.value
        }).pipe(
          Effect.timeoutFail({ duration: timeout, onTimeout: () => "timeout" as const }),
          // SIGKILL, not SIGTERM: a process that traps TERM would otherwise keep us waiting.
          Effect.tapError(() => Effect.ignore(process.kill("SIGKILL")))
        )
      })
    ).pipe(Effect.either)

    if (Either.isLeft(outcome)) {
      const error = outcome.left
      if (error === "timeout") {
        return yield* fail(
          "ProcessTimeout",
          `${label} did not finish within ${Duration.format(timeout)} and was killed (no exit code); ${stderrText()}`
        )
      }
      if (error instanceof OutputHeldOpen) {
        return yield* fail(
          "ProcessFailed",
          `${label} exited with code ${error.exitCode}, but something it started kept its output open for ` +
            `${Duration.format(outputGrace)} afterwards (a background process inheriting stdout or stderr?); ` +
            `it was killed and the output is not used; ${stderrText()}`
        )
      }
      if (error instanceof Unstartable) {
        // No `cause`: it quotes the whole command line, arguments included.
        return yield* fail("ProcessFailed", `${label} could not be started (${error.name})`)
      }
      if (error instanceof OutputTooLarge) {
        return yield* fail(
          "InvalidProcessOutput",
          `${label} wrote more than ${maxOutputBytes} bytes to ${error.stream} and was killed (no exit code)${
            error.stream === "stdout" ? `; ${stderrText()}` : ""
          }`
        )
      }
      return yield* fail(
        "ProcessFailed",
        error._tag === "SystemError" && error.reason === "NotFound"
          ? `${label} was not found`
          : `${label} could not be run: ${error._tag === "SystemError" ? error.reason : error._tag}${
            error.method === "exitCode" ? " (killed by a signal)" : ""
          }`
        // No `cause`: the platform error quotes the whole command line, arguments included.
      )
    }

    const exitCode = outcome.right
    if (exitCode !== 0) {
      const errText = stderrScrubbed()
      return yield* fail(
        "ProcessFailed",
        `${label} exited with code ${exitCode}${errText === "" ? " and no output on stderr" : `: ${errText}`}`
      )
    }
    const decoded = decodeOutput(stdout.text())
    if (Either.isLeft(decoded)) {
      return yield* fail(
        "InvalidProcessOutput",
        decoded.left._tag === "InvalidJson"
          ? `${label} exited with code 0 but did not print valid JSON on stdout (its output is not shown, ` +
            `it may hold secrets); ${stderrText()}`
          : `${label} exited with code 0 but printed JSON that is not version 1 credentials: ` +
            `${decoded.left.description}; ${stderrText()}`
      )
    }
    const output = decoded.right
    let expiration: DateTime.Utc | undefined
    if (output.Expiration !== undefined && output.Expiration !== null && output.Expiration !== "") {
      const parsed = parseTimestamp(output.Expiration)
      if (Option.isNone(parsed)) {
        return yield* fail("InvalidProcessOutput", `${label} printed an Expiration that is not an ISO 8601 timestamp`)
      }
      const now = yield* Clock.currentTimeMillis
      if (DateTime.toEpochMillis(parsed.value) <= now) {
        return yield* fail("Expired", `${label} returned credentials that expired at ${DateTime.formatIso(parsed.value)}`)
      }
      expiration = parsed.value
    }
    return Credentials.make({
      accessKeyId: output.AccessKeyId,
      secretAccessKey: output.SecretAccessKey,
      sessionToken: output.SessionToken ?? undefined,
      expiration,
      accountId: output.AccountId ?? undefined,
      source,
      provenance: `${label} of profile ${options.profile}${
        options.path === undefined ? "" : ` (${options.path}${options.line === undefined ? "" : `:${options.line}`})`
      }`
    })
  }).pipe(Effect.withSpan("Process.run", { attributes: { profile: options.profile } }))

/** `credential_process` of the session's active profile; unavailable without one. */
export const fetchCredentials = (
  settings: Settings
): Effect.Effect<
  Credentials.Credentials,
  CredentialsUnavailable | CredentialsError,
  AwsSession | CommandExecutor.CommandExecutor
> =>
  Effect.gen(function*() {
    const session = yield* AwsSession
    const property = Option.flatMap(session.profile, (profile) => ProfileFile.property(profile, "credential_process"))
    if (Option.isNone(property) || property.value.value.trim() === "") {
      return yield* new CredentialsUnavailable({
        source,
        reason: "NotConfigured",
        detail: Option.isNone(session.profile)
          ? `profile ${session.profileName} is not defined`
          : `profile ${session.profileName} has no credential_process`
      })
    }
    return yield* run({
      ...settings,
      command: property.value.value,
      profile: session.profileName,
      path: property.value.path,
      line: property.value.line
    })
  })
