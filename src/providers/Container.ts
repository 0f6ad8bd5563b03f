/**
 * Credentials from a container credentials endpoint (botocore's `container-role`): the ECS task
 * role (`AWS_CONTAINER_CREDENTIALS_RELATIVE_URI`, against `http://169.254.170.2`) and EKS Pod
 * Identity or any other endpoint given as `AWS_CONTAINER_CREDENTIALS_FULL_URI`.
 *
 * A full URI may use `https` to any host; over plain `http` it must point at a loopback address
 * (`127.0.0.0/8`, `::1`, or a name such as `localhost` that resolves only to loopback addresses,
 * as the Rust SDK checks), the ECS endpoint `169.254.170.2`, or the EKS Pod Identity endpoints
 * `169.254.170.23` / `fd00:ec2::23`. The authorization token (`AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE`,
 * else `AWS_CONTAINER_AUTHORIZATION_TOKEN`) is read again for every fetch, since EKS rotates the file.
 *
 * @since 0.1.0
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import type * as HttpClient from "@effect/platform/HttpClient"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as dns from "node:dns"
import * as net from "node:net"
import type { AwsCredentials } from "../AwsCredentials.js"
import type * as Credentials from "../Credentials.js"
import { CredentialsError, CredentialsUnavailable } from "../CredentialsError.js"
import * as Env from "../internal/env.js"
import { readOptionalFile } from "../internal/files.js"
import * as Client from "../internal/containerClient.js"
import { expandHome } from "../internal/paths.js"
import { sourceLayer } from "../internal/provider.js"
import { displayUrl, secret } from "../internal/scrub.js"

const source = "container-role" satisfies Credentials.Source

/**
 * The ECS endpoint a relative URI is resolved against.
 *
 * @since 0.1.0
 * @category models
 */
export const ecsEndpoint = "http://169.254.170.2"

/**
 * The hosts a full URI may name over plain `http` besides loopback addresses.
 *
 * @since 0.1.0
 * @category models
 */
export const allowedHttpHosts: ReadonlyArray<string> = ["169.254.170.2", "169.254.170.23", "fd00:ec2::23"]

/**
 * Tunables of the `container-role` source.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Per attempt. Default 2 seconds (botocore's). */
  readonly timeout?: Duration.DurationInput | undefined
  /** Attempts in all, retrying 5xx answers and transport errors. Default 3 (botocore's). */
  readonly attempts?: number | undefined
  /** The first wait between attempts, doubled and jittered. Default 1 second (botocore sleeps 1 s). */
  readonly backoff?: Duration.DurationInput | undefined
  /** The HTTP client to use instead of Node's `fetch` (for a custom agent, or a test double). */
  readonly httpClient?: HttpClient.HttpClient | undefined
  /**
   * Resolves a host name to its addresses, to check that an `http` full URI names only loopback
   * addresses. Default: the system resolver (`dns.lookup`, all addresses).
   */
  readonly lookup?: ((host: string) => Effect.Effect<ReadonlyArray<string>, unknown>) | undefined
}

/**
 * The defaults of `Options`.
 *
 * @since 0.1.0
 * @category models
 */
export const defaults: {
  readonly timeout: Duration.Duration
  readonly attempts: number
  readonly backoff: Duration.Duration
} = {
  timeout: Duration.seconds(2),
  attempts: 3,
  backoff: Duration.seconds(1)
}

/**
 * Where the credentials are fetched from and which variable said so.
 *
 * @since 0.1.0
 * @category models
 */
export interface Endpoint {
  readonly url: string
  readonly from: "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI" | "AWS_CONTAINER_CREDENTIALS_FULL_URI"
}

const systemLookup = (host: string): Effect.Effect<ReadonlyArray<string>, unknown> =>
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
 *
 * @since 0.1.0
 * @category resolution
 */
export const validateFullUri = (
  raw: string,
  options: { readonly lookup?: Options["lookup"]; readonly timeout?: Duration.DurationInput | undefined } = {}
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
    const addresses = yield* (options.lookup ?? systemLookup)(host).pipe(
      Effect.timeoutFail({
        duration: options.timeout ?? defaults.timeout,
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
 *
 * @since 0.1.0
 * @category resolution
 */
export const resolveEndpoint = (
  options: Pick<Options, "lookup" | "timeout"> = {}
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
      const url = yield* validateFullUri(full.value.trim(), options)
      return { url, from: "AWS_CONTAINER_CREDENTIALS_FULL_URI" } as const
    }
    return yield* new CredentialsUnavailable({
      source,
      reason: "neither AWS_CONTAINER_CREDENTIALS_RELATIVE_URI nor AWS_CONTAINER_CREDENTIALS_FULL_URI is set"
    })
  })

/**
 * The authorization token for this fetch: the file `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE`
 * names (read now, every time), else `AWS_CONTAINER_AUTHORIZATION_TOKEN`. A token with a carriage
 * return or a line feed is refused: it cannot be a header value.
 *
 * @since 0.1.0
 * @category resolution
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
  // What an HTTP header value may carry: visible ASCII, spaces and tabs. Anything else (NUL,
  // control characters, DEL, non-ASCII such as an emoji) would make the request fail later.
  const bad = /[^\t\x20-\x7e]/.exec(found.token)
  if (bad !== null) {
    const code = bad[0].codePointAt(0)!
    return yield* new CredentialsError({
      source,
      reason: "InvalidConfiguration",
      path: found.path,
      detail: `the authorization token from ${found.from} contains a character an HTTP header cannot carry ` +
        `(U+${code.toString(16).toUpperCase().padStart(4, "0")} at position ${bad.index + 1}); the token is not shown`
    })
  }
  return Option.some({ token: secret(found.token), from: found.from })
})

/**
 * Fetches credentials once: the endpoint from the environment, the token read now.
 *
 * @since 0.1.0
 * @category resolution
 */
export const resolveWith = (
  options: Options = {}
): Effect.Effect<Credentials.Credentials, CredentialsUnavailable | CredentialsError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const endpoint = yield* resolveEndpoint(options)
    const authorization = yield* readAuthorization
    return yield* Client.fetchCredentials({
      endpoint,
      authorization,
      timeout: Duration.decode(options.timeout ?? defaults.timeout),
      attempts: Math.max(1, Math.floor(options.attempts ?? defaults.attempts)),
      backoff: Duration.decode(options.backoff ?? defaults.backoff),
      httpClient: options.httpClient
    })
  })

/**
 * Fetches credentials once with the default tunables (for sources that start from a container,
 * such as `credential_source = EcsContainer`).
 *
 * @since 0.1.0
 * @category resolution
 */
export const resolve: Effect.Effect<
  Credentials.Credentials,
  CredentialsUnavailable | CredentialsError,
  FileSystem.FileSystem
> = resolveWith()

/**
 * The `container-role` source with tunables.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerWith = (
  options: Options
): Layer.Layer<AwsCredentials, CredentialsUnavailable | CredentialsError, FileSystem.FileSystem> =>
  sourceLayer(source, resolveWith(options))

/**
 * The `container-role` source with botocore's timeout (2 s) and attempts (3).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<AwsCredentials, CredentialsUnavailable | CredentialsError, FileSystem.FileSystem> =
  layerWith({})
