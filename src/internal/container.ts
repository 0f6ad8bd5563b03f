/**
 * The container credentials fetcher (botocore's `container-role`): which endpoint the environment
 * configures and whether its host is allowed, the authorization token for this fetch, and the
 * fetch itself. `providers/ContainerCredentials.ts` is its layer; assume-role roots with
 * `credential_source = EcsContainer` call `fetchCredentials` directly.
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import type * as HttpClientType from "@effect/platform/HttpClient"
import * as Clock from "effect/Clock"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as dns from "node:dns"
import * as net from "node:net"
import * as Credentials from "../Credentials.js"
import { CredentialsError, CredentialsUnavailable } from "../CredentialsError.js"
import * as Env from "./env.js"
import { readOptionalFile } from "./files.js"
import * as Http from "./http.js"
import * as HttpPlatform from "./httpPlatform.js"
import { decode, describeProblem } from "./metadataCredentials.js"
import { expandHome } from "./paths.js"
import { displayUrl, secret } from "./scrub.js"

const source = "container-role" satisfies Credentials.Source

/** Resolves a host name to its addresses. */
export type Lookup = (host: string) => Effect.Effect<ReadonlyArray<string>, unknown>

/** What one fetch runs with (the source's options, decoded and defaulted). */
export interface Settings {
  readonly timeout: Duration.Duration
  readonly maxAttempts: number
  readonly backoff: Duration.Duration
  /** The program's own `HttpClient` (the `httpClient` option), else Node's: chosen once, here. */
  readonly transport: Http.Transport
  readonly lookup: Lookup | undefined
}

/** botocore's: 2 s per attempt, 3 attempts, 1 s between them. */
export const defaults: Settings = {
  timeout: Duration.seconds(2),
  maxAttempts: 3,
  backoff: Duration.seconds(1),
  transport: HttpPlatform.transportFor(undefined),
  lookup: undefined
}

/** The settings of the source's options (any of them left out: botocore's). */
export const settingsOf = (options: {
  readonly timeout?: Duration.DurationInput | undefined
  readonly maxAttempts?: number | undefined
  readonly backoff?: Duration.DurationInput | undefined
  readonly httpClient?: HttpClientType.HttpClient | undefined
  readonly lookup?: Lookup | undefined
}): Settings => ({
  timeout: Duration.decode(options.timeout ?? defaults.timeout),
  maxAttempts: Math.max(1, Math.floor(options.maxAttempts ?? defaults.maxAttempts)),
  backoff: Duration.decode(options.backoff ?? defaults.backoff),
  transport: HttpPlatform.transportFor(options.httpClient),
  lookup: options.lookup
})

/** The ECS endpoint a relative URI is resolved against. */
export const ecsEndpoint = "http://169.254.170.2"

/** The hosts a full URI may name over plain `http` besides loopback addresses. */
export const allowedHttpHosts: ReadonlyArray<string> = ["169.254.170.2", "169.254.170.23", "fd00:ec2::23"]

/** Where the credentials are fetched from and which variable said so. */
export interface Endpoint {
  readonly url: string
  readonly from: "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI" | "AWS_CONTAINER_CREDENTIALS_FULL_URI"
}

const systemLookup: Lookup = (host) =>
  Effect.tryPromise(() => dns.promises.lookup(host, { all: true, verbatim: true })).pipe(
    Effect.map((addresses) => addresses.map((address) => address.address))
  )

/** Loopback as Python's `ipaddress` and Rust's `IpAddr::is_loopback` see it: 127.0.0.0/8 and ::1. */
const isLoopback = (address: string): boolean => {
  const family = net.isIP(address)
  if (family === 4) return address.startsWith("127.")
  if (family === 6) return new URL(`http://[${address}]`).hostname === "[::1]"
  return false
}

const invalid = (detail: string) =>
  new CredentialsError({
    source,
    reason: "InvalidConfiguration",
    detail: `AWS_CONTAINER_CREDENTIALS_FULL_URI ${detail}`
  })

const invalidUriCharacter = /[\s<>"{}|\\^`\u0000-\u001f\u007f]/

const rule = "over http only loopback addresses (127.0.0.0/8, ::1, or a name that resolves only to them), " +
  `the ECS endpoint 169.254.170.2 and the EKS Pod Identity endpoints 169.254.170.23 and fd00:ec2::23 are allowed; ` +
  "use https for any other host"

/**
 * Checks a full URI against the host rule (see the module's description).
 */
export const validateFullUri = (
  raw: string,
  settings: Pick<Settings, "lookup" | "timeout">
): Effect.Effect<string, CredentialsError> =>
  Effect.gen(function*() {
    if (invalidUriCharacter.test(raw)) return yield* invalid(`"${displayUrl(raw)}" is not a valid URL: invalid uri character`)
    if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(raw)) {
      return yield* invalid(
        `"${displayUrl(raw)}" is not a full URL: the URI did not specify a host (a relative path belongs in ` +
          "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI)"
      )
    }
    let url: URL
    try {
      url = new URL(raw)
    } catch {
      return yield* invalid(`"${displayUrl(raw)}" is not a valid URL`)
    }
    if (url.username !== "" || url.password !== "") {
      // Not echoed: a password in a URL is a secret; the endpoints take a token header instead.
      return yield* invalid("must not contain a user name or password (use AWS_CONTAINER_AUTHORIZATION_TOKEN)")
    }
    if (url.protocol === "https:") {
      if (url.hostname === "") return yield* invalid(`"${displayUrl(raw)}": the URI did not specify a host`)
      return url.href
    }
    if (url.protocol !== "http:") return yield* invalid(`"${displayUrl(raw)}" is neither an http nor an https URL`)
    if (url.hostname === "") return yield* invalid(`"${displayUrl(raw)}": the URI did not specify a host`)
    const host = url.hostname.replace(/^\[(.*)\]$/, "$1")
    if (net.isIP(host) !== 0) {
      if (isLoopback(host) || allowedHttpHosts.includes(host)) return url.href
      return yield* invalid(`"${displayUrl(raw)}" is not allowed: ${rule}`)
    }
    const addresses = yield* (settings.lookup ?? systemLookup)(host).pipe(
      Effect.timeoutFail({
        duration: settings.timeout,
        onTimeout: () => "timeout" as const
      }),
      Effect.mapError((cause) =>
        invalid(
          `"${displayUrl(raw)}": the host ${host} could not be resolved to check that it is a loopback address (${
            cause === "timeout" ? "timed out" : "lookup failed"
          }); ${rule}`
        )
      )
    )
    if (addresses.length > 0 && addresses.every(isLoopback)) return url.href
    return yield* invalid(
      `"${displayUrl(raw)}" is not allowed: ${host} resolves to ${addresses.join(", ") || "no address"}, ` +
        `not only to loopback addresses; ${rule}`
    )
  })

/**
 * Which endpoint the environment configures: the relative URI (it wins, as in botocore and the
 * other SDKs), else the full URI after the host check; unavailable when neither is set.
 */
export const resolveEndpoint = (
  settings: Pick<Settings, "lookup" | "timeout">
): Effect.Effect<Endpoint, CredentialsUnavailable | CredentialsError> =>
  Effect.gen(function*() {
    const relative = yield* Env.optional("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
    if (Option.isSome(relative)) {
      const path = relative.value.startsWith("/") ? relative.value : `/${relative.value}`
      let url: URL
      try {
        url = new URL(`${ecsEndpoint}${path}`)
      } catch {
        return yield* new CredentialsError({
          source,
          reason: "InvalidConfiguration",
          detail: `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI "${displayUrl(relative.value)}" is not a valid URL path`
        })
      }
      return { url: url.href, from: "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI" } as const
    }
    const full = yield* Env.optional("AWS_CONTAINER_CREDENTIALS_FULL_URI")
    if (Option.isSome(full)) {
      const url = yield* validateFullUri(full.value.trim(), settings)
      return { url, from: "AWS_CONTAINER_CREDENTIALS_FULL_URI" } as const
    }
    return yield* new CredentialsUnavailable({
      source,
      reason: "NotConfigured",
 detail: "neither AWS_CONTAINER_CREDENTIALS_RELATIVE_URI nor AWS_CONTAINER_CREDENTIALS_FULL_URI is set"
    })
  })

/**
 * The authorization token for this fetch: the file `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE`
 * names (read now, every time), else `AWS_CONTAINER_AUTHORIZATION_TOKEN`. A token with a carriage
 * return or a line feed is refused: it cannot be a header value.
 */
export const readAuthorization: Effect.Effect<
  Option.Option<{ readonly token: Redacted.Redacted<string>; readonly from: string }>,
  CredentialsError,
  FileSystem.FileSystem
> = Effect.gen(function*() {
  const file = yield* Env.optional("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")
  let found: { readonly token: string; readonly from: string; readonly path?: string } | undefined
  if (Option.isSome(file)) {
    const path = expandHome(file.value, yield* Env.homeDirectory)
    const text = yield* readOptionalFile(path, {
      source,
      what: "file named by AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
      kind: "token"
    })
    if (Option.isNone(text)) {
      return yield* new CredentialsError({
        source,
        reason: "FileUnreadable",
        path,
        detail: "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE names a file that does not exist"
      })
    }
    found = { token: text.value, from: `the file named by AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE`, path }
  } else {
    const value = yield* Env.optional("AWS_CONTAINER_AUTHORIZATION_TOKEN")
    if (Option.isSome(value)) found = { token: value.value, from: "AWS_CONTAINER_AUTHORIZATION_TOKEN" }
  }
  if (found === undefined) return Option.none()
  if (/[\r\n]/.test(found.token)) {
    return yield* new CredentialsError({
      source,
      reason: "InvalidConfiguration",
      path: found.path,
      detail: `the authorization token from ${found.from} contains a carriage return or a line feed, ` +
        "which a header value cannot hold (a trailing newline in the file?); the token is not shown"
    })
  }
  const unsafe = Http.headerUnsafe(found.token)
  if (unsafe !== undefined) {
    return yield* new CredentialsError({
      source,
      reason: "InvalidConfiguration",
      path: found.path,
      detail: `the authorization token from ${found.from} contains a character an HTTP header cannot carry ` +
        `(${unsafe}); the token is not shown`
    })
  }
  return Option.some({ token: secret(found.token), from: found.from })
})

interface FetchOptions extends Settings {
  readonly endpoint: Endpoint
  readonly authorization: Option.Option<{ readonly token: Redacted.Redacted<string>; readonly from: string }>
}

const error = (reason: CredentialsError["reason"], detail: string, cause?: unknown) =>
  new CredentialsError({ source, reason, detail, cause })

const toError = (options: FetchOptions, failure: Http.HttpFailure): CredentialsError => {
  const after = options.maxAttempts > 1 && Http.isTransient(failure) ? ` (after ${options.maxAttempts} attempts)` : ""
  const where = `${Http.describe(failure)}${after}`
  switch (failure._tag) {
    case "HttpUnreachable":
      return error(
        "Unreachable",
        `the container credentials endpoint (${options.endpoint.from}) is unreachable: ${where}`
      )
    case "HttpTimeout":
      return error("Timeout", `the container credentials endpoint (${options.endpoint.from}) did not answer: ${where}`)
    case "HttpBody":
      return error("InvalidResponse", `the container credentials endpoint's answer was cut off: ${where}`)
    case "HttpStatus": {
      const summary = Http.errorSummary(failure.body)
      const detail = `${where}${summary === undefined ? "" : ` (${summary})`}`
      if (failure.status === 401 || failure.status === 403) {
        return error(
          "ServiceError",
          `the container credentials endpoint refused the request: ${detail}; ${
            Option.match(options.authorization, {
              onNone: () =>
                "no authorization token was sent " +
                "(AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE and AWS_CONTAINER_AUTHORIZATION_TOKEN are unset)",
              onSome: ({ from }) => `check the authorization token from ${from}`
            })
          }`
        )
      }
      return error("ServiceError", `the container credentials endpoint answered ${detail}`)
    }
  }
}

/** GETs the credentials document (retrying 5xx and transport errors) and decodes it. */
const fetchFrom = (options: FetchOptions): Effect.Effect<Credentials.Credentials, CredentialsError> =>
  Effect.gen(function*() {
    const headers: Record<string, string> = { accept: "application/json" }
    if (Option.isSome(options.authorization)) headers.authorization = Redacted.value(options.authorization.value.token)
    const response = yield* Http.send(
      options.transport,
      { method: "GET", url: options.endpoint.url, headers },
      { timeout: options.timeout, maxAttempts: options.maxAttempts, backoff: options.backoff, retryOn: Http.isTransient }
    ).pipe(Effect.mapError((failure) => toError(options, failure)))

    const decoded = decode(response.body, { token: false, expiration: false })
    const what = `the credentials from ${options.endpoint.url}`
    if (Either.isLeft(decoded)) {
      return yield* error(
        decoded.left._tag === "NotSuccess" ? "ServiceError" : "InvalidResponse",
        describeProblem(what, decoded.left)
      )
    }
    const { expiration } = decoded.right
    if (expiration !== undefined && DateTime.toEpochMillis(expiration) <= (yield* Clock.currentTimeMillis)) {
      return yield* error("Expired", `${what} expired at ${DateTime.formatIso(expiration)}`)
    }
    return Credentials.make({
      accessKeyId: decoded.right.accessKeyId,
      secretAccessKey: decoded.right.secretAccessKey,
      sessionToken: decoded.right.token,
      expiration,
      accountId: decoded.right.accountId,
      source,
      provenance: `container endpoint ${displayUrl(options.endpoint.url)} (${options.endpoint.from})`
    })
  })

/** Fetches credentials once: the endpoint from the environment, the token read now. */
export const fetchCredentials = (
  settings: Settings
): Effect.Effect<Credentials.Credentials, CredentialsUnavailable | CredentialsError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const endpoint = yield* resolveEndpoint(settings)
    const authorization = yield* readAuthorization
    return yield* fetchFrom({ ...settings, endpoint, authorization })
  })
