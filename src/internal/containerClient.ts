/**
 * Fetching credentials from a container endpoint (ECS, EKS Pod Identity), for `Container`.
 */
import type * as HttpClientType from "@effect/platform/HttpClient"
import * as Clock from "effect/Clock"
import * as DateTime from "effect/DateTime"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Credentials from "../Credentials.js"
import { CredentialsError } from "../CredentialsError.js"
import type { Endpoint } from "../providers/Container.js"
import * as Http from "./http.js"
import * as HttpPlatform from "./httpPlatform.js"
import { decode, describeProblem } from "./metadataCredentials.js"

const source = "container-role" satisfies Credentials.Source

export interface FetchOptions {
  readonly endpoint: Endpoint
  readonly authorization: Option.Option<{ readonly token: Redacted.Redacted<string>; readonly from: string }>
  readonly timeout: Duration.Duration
  readonly attempts: number
  readonly backoff: Duration.Duration
  readonly httpClient: HttpClientType.HttpClient | undefined
}

const error = (reason: CredentialsError["reason"], detail: string, cause?: unknown) =>
  new CredentialsError({ source, reason, detail, cause })

const toError = (options: FetchOptions, failure: Http.HttpFailure): CredentialsError => {
  const after = options.attempts > 1 && Http.isTransient(failure) ? ` (after ${options.attempts} attempts)` : ""
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
export const fetchCredentials = (options: FetchOptions): Effect.Effect<Credentials.Credentials, CredentialsError> =>
  Effect.gen(function*() {
    const client = options.httpClient === undefined ? Http.nodeTransport : HttpPlatform.fromClient(options.httpClient)

    const headers: Record<string, string> = { accept: "application/json" }
    if (Option.isSome(options.authorization)) headers.authorization = Redacted.value(options.authorization.value.token)
    const response = yield* Http.send(
      client,
      { method: "GET", url: options.endpoint.url, headers },
      { timeout: options.timeout, attempts: options.attempts, backoff: options.backoff, retryOn: Http.isTransient }
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
      provenance: `container endpoint ${options.endpoint.url} (${options.endpoint.from})`
    })
  })
