/**
 * What `effect-aws-credentials explain` computes: walk the default chain as an application
 * would, and describe the outcome without ever including a secret.
 *
 * With `verify`, resolved credentials are also shown to AWS (`verify.ts`: STS GetCallerIdentity
 * where the session's STS calls go): the report gains `identity` (account, ARN, user id, or `null`)
 * and, when there is no identity, `verification` (`code`, `outcome`, `message`).
 *
 * Exit status: 0 credentials resolved (and, with `verify`, accepted by STS or not checked because
 * STS could not be asked: unreachable, timed out, throttled; `verification` says why); 1
 * `NoCredentialsFound`; 2 `CredentialsError`; 3 credentials resolved but rejected by STS
 * (`InvalidClientTokenId`, `SignatureDoesNotMatch`, `ExpiredToken`, ...).
 */
import type * as CommandExecutor from "@effect/platform/CommandExecutor"
import type * as FileSystem from "@effect/platform/FileSystem"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import { AwsCredentials } from "../AwsCredentials.js"
import * as AwsRegion from "../AwsRegion.js"
import * as AwsSession from "../AwsSession.js"
import * as CredentialChain from "../CredentialChain.js"
import * as Credentials from "../Credentials.js"
import type { Attempt } from "../CredentialsError.js"
import * as Region from "./region.js"
import { bound, escapeControls, scrubValue } from "./scrub.js"
import * as Verify from "./verify.js"

export interface Report {
  readonly ok: boolean
  readonly profile: string
  readonly credentials?: {
    readonly source: Credentials.Source
    readonly accessKeyId: string
    readonly secretAccessKey: string
    readonly sessionToken: boolean
    readonly expiration: string | null
    readonly accountId: string | null
    readonly provenance: string
  }
  readonly region: { readonly name: string | null; readonly source: string | null }
  readonly attempts: ReadonlyArray<Attempt>
  /** With `verify` and resolved credentials: who STS says they belong to, `null` without an answer. */
  readonly identity?: Verify.Identity | null
  /** With `verify`, when `identity` is `null`: STS's error code, or why it could not be asked. */
  readonly verification?: {
    readonly code: string
    /** `rejected`: STS said no (exit status 3); `unverified`: no verdict (the exit status stays 0). */
    readonly outcome: "rejected" | "unverified"
    readonly message: string
  }
  readonly error?: {
    readonly _tag: string
    readonly source?: Credentials.Source
    readonly reason: string
    readonly message: string
  }
}

/** What the human form shows beyond the JSON contract. */
export interface Details {
  readonly profileSource: AwsSession.ProfileSource
  readonly configFile: string | null
  readonly credentialsFile: string | null
  readonly regionLocation: string | null
}

export interface Explanation {
  readonly report: Report
  readonly details: Details
  /** 0 resolved, 1 NoCredentialsFound, 2 CredentialsError, 3 resolved but rejected by STS. */
  readonly exitCode: 0 | 1 | 2 | 3
}

/**
 * A value that came from outside (a profile name, a region, a provenance naming paths) as the
 * report shows it: scrubbed like every message, and bounded (a 20 MB region is not printed back).
 */
const shown = (text: string, max = 256): string => scrubValue(text, max)

/** ISO 8601 without milliseconds when there are none: `2026-11-29T10:00:00Z`. */
export const formatTimestamp = (dateTime: DateTime.Utc): string =>
  DateTime.formatIso(dateTime).replace(/\.000Z$/, "Z")

const describeCredentials = (credentials: Credentials.Credentials): NonNullable<Report["credentials"]> => ({
  source: credentials.source,
  // Not a secret (nor scrubbed as one); from outside all the same, so escaped and bounded.
  accessKeyId: bound(escapeControls(credentials.accessKeyId), 128),
  secretAccessKey: escapeControls(Credentials.mask(Redacted.value(credentials.secretAccessKey))),
  sessionToken: Option.isSome(credentials.sessionToken),
  expiration: Option.match(credentials.expiration, { onNone: () => null, onSome: formatTimestamp }),
  accountId: Option.getOrNull(Option.map(credentials.accountId, (account) => shown(account, 64))),
  provenance: shown(credentials.provenance, 1024)
})

/** The report's `identity` / `verification` for an outcome of `verify`. */
const verification = (outcome: Verify.Outcome): Pick<Report, "identity" | "verification"> => {
  switch (outcome._tag) {
    case "Verified":
      return { identity: outcome.identity }
    case "Rejected":
      return { identity: null, verification: { code: outcome.code, outcome: "rejected", message: outcome.message } }
    case "Unverified":
      return { identity: null, verification: { code: outcome.code, outcome: "unverified", message: outcome.message } }
  }
}

const fileLabel = (file: { readonly path: string | undefined; readonly exists: boolean }): string | null =>
  file.path === undefined ? null : `${file.path}${file.exists ? "" : " (missing)"}`

export const explain = (options: {
  readonly profile?: string | undefined
  readonly region?: string | undefined
  readonly chain?: CredentialChain.DefaultOptions | undefined
  /** Ask STS whether resolved credentials work (`true`, or the call's timeout and attempts). */
  readonly verify?: boolean | Verify.Options | undefined
}): Effect.Effect<Explanation, never, FileSystem.FileSystem | CommandExecutor.CommandExecutor> =>
  Effect.gen(function*() {
    const selected = yield* AwsSession.selectProfile(options)
    const sessionResult = yield* Effect.either(AwsSession.make(options))

    if (Either.isLeft(sessionResult)) {
      // The session itself failed (profile missing, a file that does not parse): the chain
      // never ran. The region can still be told from the option and the environment.
      const error = sessionResult.left
      const known = yield* Region.beforeProfiles(
        Option.filter(Option.fromNullable(options.region), (name) => name !== "")
      )
      const region = Option.match(known, {
        onNone: () => ({ name: null, source: null }),
        onSome: (r) => ({ name: shown(r.name), source: r.source })
      })
      return {
        report: {
          ok: false,
          profile: shown(selected.name),
          region,
          attempts: [],
          error: {
            _tag: error._tag,
            ...(error.source === undefined ? {} : { source: error.source }),
            reason: error.reason,
            message: error.message
          }
        },
        details: {
          profileSource: selected.source,
          configFile: null,
          credentialsFile: null,
          regionLocation: null
        },
        exitCode: 2
      }
    }

    const session = sessionResult.right
    const sessionLayer = Layer.succeed(AwsSession.AwsSession, session)
    // The region's last link (instance metadata) may take a metadata timeout when nothing
    // answers: look for it while the chain runs.
    const regionFiber = yield* Effect.fork(AwsRegion.resolve.pipe(Effect.provide(sessionLayer)))
    const resolved = yield* Effect.gen(function*() {
      const service = yield* AwsCredentials
      const credentials = yield* service.get
      return { service, credentials }
    }).pipe(
      Effect.provide(CredentialChain.layerDefaultWith(options.chain ?? {}).pipe(Layer.provide(sessionLayer))),
      Effect.either
    )

    const region = yield* Fiber.join(regionFiber)
    const regionReport = Option.match(region, {
      onNone: () => ({ name: null, source: null }),
      onSome: (r) => ({ name: shown(r.name), source: r.source })
    })
    const details: Details = {
      profileSource: session.profileSource,
      configFile: fileLabel(session.configFile),
      credentialsFile: fileLabel(session.credentialsFile),
      regionLocation: Option.match(region, {
        onNone: () => null,
        onSome: (r) => r.path === undefined ? null : `${r.path}:${r.line ?? "?"}`
      })
    }

    if (Either.isRight(resolved)) {
      const { credentials, service } = resolved.right
      const checked = options.verify === undefined || options.verify === false
        ? undefined
        : yield* Verify.verify(credentials, options.verify === true ? {} : options.verify).pipe(
          Effect.provide(sessionLayer)
        )
      return {
        report: {
          ok: true,
          profile: shown(session.profileName),
          credentials: describeCredentials(credentials),
          region: regionReport,
          attempts: service.attempts,
          ...(checked === undefined ? {} : verification(checked))
        },
        details,
        exitCode: checked?._tag === "Rejected" ? 3 : 0
      }
    }
    const error = resolved.left
    return {
      report: {
        ok: false,
        profile: shown(session.profileName),
        region: regionReport,
        attempts: error.attempts ?? [],
        error: error._tag === "NoCredentialsFound"
          ? { _tag: error._tag, reason: "NoCredentialsFound", message: error.message }
          : {
            _tag: error._tag,
            ...(error.source === undefined ? {} : { source: error.source }),
            reason: error.reason,
            message: error.message
          }
      },
      details,
      exitCode: error._tag === "NoCredentialsFound" ? 1 : 2
    }
  })

const pad = (text: string, width: number) => text.length >= width ? text : text + " ".repeat(width - text.length)

/**
 * `text` in lines of at most `width` characters, broken at spaces (a word longer than the width
 * is cut); one line when `width` is undefined.
 */
export const wrap = (text: string, width: number | undefined): ReadonlyArray<string> => {
  const flat = text.replace(/\n/g, " ")
  if (width === undefined || width <= 0 || flat.length <= width) return [flat]
  const lines: Array<string> = []
  let line = ""
  for (const word of flat.split(" ")) {
    let rest = word
    while (rest.length > width) {
      if (line !== "") (lines.push(line), line = "")
      lines.push(rest.slice(0, width))
      rest = rest.slice(width)
    }
    if (line === "") line = rest
    else if (line.length + 1 + rest.length <= width) line += ` ${rest}`
    else (lines.push(line), line = rest)
  }
  if (line !== "") lines.push(line)
  return lines
}

/** Problems that make "set a region" the wrong advice: the files themselves are the problem. */
const fileProblems: ReadonlySet<string> = new Set(["MalformedFile", "ProfileNotFound", "FileUnreadable"])

const profileLine = (report: Report, details: Details): string =>
  `Profile      ${report.profile} (${
    details.profileSource === "option"
      ? "from --profile"
      : details.profileSource === "default"
      ? "default"
      : `from ${details.profileSource}`
  })`

const attemptLines = (attempts: ReadonlyArray<Attempt>, width: number | undefined): Array<string> => {
  if (attempts.length === 0) return []
  const sourceWidth = Math.max(6, ...attempts.map((a) => a.source.length))
  const head = (n: string, source: string, outcome: string, time: string) =>
    `  ${pad(n, 2)} ${pad(source, sourceWidth)}  ${pad(outcome, 11)}  ${pad(time, 9)}  `
  const indent = head("", "", "", "").length
  const lines = [`${head("#", "source", "outcome", "time")}reason`]
  attempts.forEach((attempt, index) => {
    const [first = "", ...rest] = wrap(attempt.reason, width === undefined ? undefined : Math.max(20, width - indent))
    lines.push(`${head(String(index + 1), attempt.source, attempt.outcome, `${attempt.durationMs.toFixed(1)} ms`)}${first}`)
    for (const more of rest) lines.push(`${" ".repeat(indent)}${more}`)
  })
  lines.push("")
  return lines
}

/**
 * What failed, once: when the table above already holds the failing attempt (its reason is the
 * error's message) or every attempt (`NoCredentialsFound` lists them), the message is not
 * printed again.
 */
const errorLines = (report: Report, width: number | undefined): Array<string> => {
  const error = report.error
  if (error === undefined) return []
  if (error._tag === "NoCredentialsFound" && report.attempts.length > 0) {
    return [`No credentials: none of the ${report.attempts.length} sources above had any (NoCredentialsFound)`]
  }
  const failed = report.attempts.findIndex((attempt) => attempt.outcome === "failed" && attempt.reason === error.message)
  if (failed >= 0) {
    return [`No credentials: ${error.source ?? "a source"} failed (${error._tag}, ${error.reason}), see #${failed + 1} above`]
  }
  return [
    `No credentials: ${error._tag} (${error.reason})`,
    ...error.message.split("\n").flatMap((line) => wrap(line, width === undefined ? undefined : width - 2))
      .map((line) => `  ${line}`)
  ]
}

/** Under the credentials: who they belong to, or why that is not known (with `--verify`). */
const verificationLines = (report: Report): ReadonlyArray<string> => {
  if (report.identity !== undefined && report.identity !== null) {
    const { account, arn, userId } = report.identity
    return [`  identity       account ${account}, arn ${arn}, user id ${userId}`]
  }
  if (report.verification === undefined) return []
  // A rejection's message starts with STS's code already; a missing verdict's does not.
  const v = report.verification
  return [`  verification   ${v.outcome === "rejected" ? "rejected" : `not verified (${v.code})`}: ${v.message}`]
}

/**
 * The human form: the chain as a table, then the winner, the region and the files. `width`
 * (the terminal's columns) wraps long reasons; without it nothing is wrapped.
 */
export const formatHuman = (
  explanation: Explanation,
  now: DateTime.Utc,
  options: { readonly width?: number | undefined } = {}
): string => {
  const { details, report } = explanation
  const width = options.width !== undefined && options.width > 0 ? options.width : undefined
  const lines: Array<string> = [profileLine(report, details)]
  if (details.configFile !== null) lines.push(`Config file  ${details.configFile}`)
  if (details.credentialsFile !== null) lines.push(`Credentials  ${details.credentialsFile}`)
  lines.push("")
  lines.push(...attemptLines(report.attempts, width))
  if (report.credentials !== undefined) {
    const c = report.credentials
    const expiration = c.expiration === null
      ? "never (static credentials)"
      : (() => {
        const minutes = Math.round(
          (new Date(c.expiration).getTime() - DateTime.toEpochMillis(now)) / 60_000
        )
        return `${c.expiration} (${minutes >= 0 ? `in ${minutes} min` : `${-minutes} min ago`})`
      })()
    lines.push(`Credentials from ${c.source}`)
    lines.push(`  access key     ${c.accessKeyId}`)
    lines.push(`  secret key     ${c.secretAccessKey}`)
    lines.push(`  session token  ${c.sessionToken ? "present" : "none"}`)
    lines.push(`  expiration     ${expiration}`)
    lines.push(`  account        ${c.accountId ?? "unknown"}`)
    lines.push(`  provenance     ${c.provenance}`)
    lines.push(...verificationLines(report))
  } else {
    lines.push(...errorLines(report, width))
  }
  lines.push("")
  lines.push(
    report.region.name !== null
      ? `Region       ${report.region.name} (${report.region.source}${
        details.regionLocation === null ? "" : `, ${details.regionLocation}`
      })`
      : report.error !== undefined && fileProblems.has(report.error.reason)
      ? "Region       none"
      : "Region       none (set AWS_REGION, or region in the profile)"
  )
  // Every line may hold text from outside (paths, names, a server's message): whatever escaped
  // the scrubber's passes, no control sequence reaches the terminal.
  return lines.flatMap((line) => line.split("\n")).map(escapeControls).join("\n")
}
