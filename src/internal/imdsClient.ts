/**
 * Talking to the EC2 instance metadata service: the IMDSv2 token (cached, fetched again after a
 * 401), botocore's fallback to IMDSv1, the role credentials and the region, for
 * `InstanceMetadata` and `imdsRegion`.
 *
 * How the token call's failures are handled follows botocore's `IMDSFetcher._fetch_metadata_token`:
 * a timeout gives up on the token at once (no retry), 403 / 404 / 405 mean "no IMDSv2 here",
 * connection errors and other statuses are retried within the attempts; in all those cases the
 * requests go on without a token (IMDSv1) unless v1 is disabled. 400 is an error.
 *
 * Unlike botocore, the first IMDSv1 GET does not wait for the token request to time out: it goes
 * out beside it once the token request has been silent for a while (`tokenBesideProbe`), so that a
 * service that answers nothing costs one timeout, not two. The token still wins whenever it comes.
 */
import * as Clock from "effect/Clock"
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import * as Redacted from "effect/Redacted"
import * as Ref from "effect/Ref"
import * as Credentials from "../Credentials.js"
import { AwsSession, type MetadataMemo } from "../AwsSession.js"
import { CredentialsError, CredentialsUnavailable } from "../CredentialsError.js"
import { defaults, type Overrides, resolveSettings, type Settings, type State } from "./imdsSettings.js"
import * as Http from "./http.js"
import * as Reachability from "./imdsReachability.js"
import { decode, describeProblem } from "./metadataCredentials.js"
import { secret } from "./scrub.js"

const source = "iam-role" satisfies Credentials.Source

const tokenPath = "/latest/api/token"
const rolePath = "/latest/meta-data/iam/security-credentials/"
const regionPath = "/latest/meta-data/placement/region"
const ttlHeader = "x-aws-ec2-metadata-token-ttl-seconds"
const tokenHeader = "x-aws-ec2-metadata-token"

/**
 * The service did not answer usefully (unreachable, timed out, 5xx after the attempts): with last
 * credentials this is where static stability applies; without, the source is unavailable.
 * `unreachable`: nothing answered at all (neither the token request nor the GET), which the
 * session remembers (`imdsReachability.ts`).
 */
class Outage extends Data.TaggedError("Outage")<{ readonly detail: string; readonly unreachable: boolean }> {}

/** How this fetch talks to the service: with a token, or without one (IMDSv1) and why. */
type Access =
  | { readonly _tag: "V2"; readonly token: Redacted.Redacted<string> }
  | { readonly _tag: "V1"; readonly tokenFailure: Http.HttpFailure }

interface Context {
  readonly settings: Settings
  readonly client: Http.Transport
  readonly state: State
  /** What the session learnt about the endpoint; none for a session built by hand. */
  readonly memo?: MetadataMemo | undefined
  /** When set (epoch milliseconds), every request of the fetch ends by then: the region's bound. */
  readonly deadline?: number | undefined
}

const url = (settings: Settings, path: string) => `${settings.endpoint}${path}`

const error = (reason: CredentialsError["reason"], detail: string) => new CredentialsError({ source, reason, detail })

const hopLimitError = (settings: Settings, tokenFailure: Http.HttpFailure, answer: string) =>
  error(
    "Timeout",
    `the IMDSv2 token request (${Http.describe(tokenFailure)}) timed out, but a GET to the same service answered ` +
      `(${answer}): the PUT response is most likely dropped by the instance's metadata hop limit, which is too low ` +
      `when running in a container. Raise it to 2 (aws ec2 modify-instance-metadata-options --instance-id ID ` +
      `--http-put-response-hop-limit 2), or, if the service is only slow, raise AWS_METADATA_SERVICE_TIMEOUT ` +
      `(now ${Duration.format(settings.timeout)}).`
  )

const policy = (settings: Settings, retryOn: (failure: Http.HttpFailure) => boolean): Http.Policy => ({
  timeout: settings.timeout,
  maxAttempts: settings.maxAttempts,
  backoff: defaults.backoff,
  retryOn
})

/** `Http.send` within the fetch's deadline, if it has one: each request gets at most what is left of it. */
const send = (context: Context, request: Http.Request, given: Http.Policy): Effect.Effect<Http.HttpResponse, Http.HttpFailure> => {
  const { deadline } = context
  if (deadline === undefined) return Http.send(context.client, request, given)
  return Effect.flatMap(Clock.currentTimeMillis, (now) => {
    const left = Duration.millis(Math.max(0, deadline - now))
    return Http.send(context.client, request, { ...given, timeout: Duration.min(given.timeout, left), deadline: left })
  })
}

/** Requests a new token and caches it; a failure other than 400 means "go on without one". */
const fetchToken = (
  context: Context
): Effect.Effect<Either.Either<Redacted.Redacted<string>, Http.HttpFailure>, CredentialsError> =>
  send(
    context,
    {
      method: "PUT",
      url: url(context.settings, tokenPath),
      headers: { [ttlHeader]: String(Duration.toSeconds(defaults.tokenTtl)) }
    },
    // botocore gives up on the token at the first timeout: retrying would only double the wait
    // where a hop limit drops the answers.
    policy(context.settings, (failure) => failure._tag !== "HttpTimeout" && Http.isTransient(failure))
  ).pipe(
    Effect.flatMap((response) =>
      Effect.gen(function*() {
        const token = response.body.trim()
        if (token === "") {
          return Either.left<Http.HttpFailure>(
            new Http.HttpBody({ method: "PUT", url: url(context.settings, tokenPath), detail: "empty token" })
          )
        }
        // It goes back as a header value: visible ASCII only, or the next request would throw.
        if (/[^\x21-\x7e]/.test(token)) {
          return Either.left<Http.HttpFailure>(
            new Http.HttpBody({
              method: "PUT",
              url: url(context.settings, tokenPath),
              detail: "a token with characters an HTTP header cannot carry"
            })
          )
        }
        const granted = Number(response.headers[ttlHeader])
        const ttlMs = Number.isFinite(granted) && granted > 0
          ? Math.min(granted * 1000, Duration.toMillis(defaults.tokenTtl))
          : Duration.toMillis(defaults.tokenTtl)
        const now = yield* Clock.currentTimeMillis
        const value = secret(token)
        const buffer = Math.min(Duration.toMillis(defaults.tokenRefreshBuffer), ttlMs / 2)
        yield* Ref.set(context.state.token, Option.some({ value, expiresAt: now + ttlMs - buffer }))
        return Either.right(value)
      })
    ),
    Effect.catchAll((failure) =>
      failure._tag === "HttpStatus" && failure.status === 400
        ? Effect.fail(
          error(
            "ServiceError",
            `the metadata service rejected the IMDSv2 token request (${Http.describe(failure)}); ` +
              `is ${context.settings.endpoint} (${context.settings.endpointSource}) an instance metadata service?`
          )
        )
        : Effect.succeed(Either.left(failure))
    )
  )

/**
 * Decides how to go on without a token: IMDSv1 when allowed; otherwise an outage when the
 * service is unreachable, the hop-limit error when the PUT timed out but a GET answers, or an
 * error that says v1 is disabled.
 */
const withoutToken = (
  context: Context,
  tokenFailure: Http.HttpFailure
): Effect.Effect<Access, CredentialsError | Outage> => {
  const { settings } = context
  if (!settings.v1Disabled) return Effect.succeed({ _tag: "V1", tokenFailure })
  if (tokenFailure._tag === "HttpTimeout") {
    // Is it the service, or only the PUT? A GET without a token tells (any status will do).
    return send(
      context,
      { method: "GET", url: url(settings, "/latest/meta-data/") },
      { timeout: settings.timeout, maxAttempts: 1, backoff: defaults.backoff, retryOn: () => false }
    ).pipe(
      Effect.map((response) => `HTTP ${response.status}`),
      Effect.catchAll((probe) =>
        probe._tag === "HttpStatus"
          ? Effect.succeed(`HTTP ${probe.status}`)
          : Effect.fail(
            new Outage({
              detail: `${Http.describe(tokenFailure)}; ${Http.describe(probe)}`,
              unreachable: !Http.answered(probe)
            })
          )
      ),
      Effect.flatMap((answer) => Effect.fail(hopLimitError(settings, tokenFailure, answer)))
    )
  }
  if (Http.isTransient(tokenFailure)) {
    return Effect.fail(new Outage({ detail: Http.describe(tokenFailure), unreachable: !Http.answered(tokenFailure) }))
  }
  return Effect.fail(
    error(
      "ServiceError",
      `no IMDSv2 token (${Http.describe(tokenFailure)}) and IMDSv1 is disabled by ` +
        (settings.v1DisabledBy ?? "the settings")
    )
  )
}

/** The cached token while it is still good. */
const cachedToken = (context: Context): Effect.Effect<Option.Option<Redacted.Redacted<string>>> =>
  Effect.gen(function*() {
    const cached = yield* Ref.get(context.state.token)
    const now = yield* Clock.currentTimeMillis
    return Option.isSome(cached) && now < cached.value.expiresAt ? Option.some(cached.value.value) : Option.none()
  })

/** A new token, or the way to go on without one. */
const newAccess = (context: Context): Effect.Effect<Access, CredentialsError | Outage> =>
  Effect.flatMap(fetchToken(context), (fetched) =>
    Either.isRight(fetched)
      ? Effect.succeed<Access>({ _tag: "V2", token: fetched.right })
      : withoutToken(context, fetched.left))

/** A body, and the access that got it (a 401 may have replaced the token). */
type Got = readonly [string, Access]

/** One GET of a metadata path (its attempts included), with the token if there is one. */
const exchange = (
  context: Context,
  token: Redacted.Redacted<string> | undefined,
  path: string
): Effect.Effect<Http.HttpResponse, Http.HttpFailure> =>
  send(
    context,
    {
      method: "GET",
      url: url(context.settings, path),
      headers: token === undefined ? undefined : { [tokenHeader]: Redacted.value(token) }
    },
    policy(context.settings, Http.isTransient)
  )

/**
 * What a GET's outcome means. A 401 with a token drops the token and tries once more with a new
 * one; a 401 without a token is explained (IMDSv1 refused, or the hop limit). Failures that may
 * pass (unreachable, timeout, 5xx, 429) become an `Outage` once the attempts are spent; other
 * statuses are returned for the caller to interpret.
 */
const settle = (
  context: Context,
  current: Access,
  path: string,
  retried: boolean
) =>
(outcome: Effect.Effect<Http.HttpResponse, Http.HttpFailure>): Effect.Effect<Got, Http.HttpStatus | CredentialsError | Outage> => {
  const { settings } = context
  return outcome.pipe(
    Effect.map((response) => [response.body, current] as const),
    Effect.catchAll((failure): Effect.Effect<Got, Http.HttpStatus | CredentialsError | Outage> => {
      if (failure._tag === "HttpStatus" && failure.status === 401) {
        if (current._tag === "V2") {
          if (retried) {
            return Effect.fail(
              error("ServiceError", `${Http.describe(failure)} although the IMDSv2 token was just fetched`)
            )
          }
          return Ref.set(context.state.token, Option.none()).pipe(
            Effect.zipRight(newAccess(context)),
            Effect.flatMap((next) => get(context, next, path, true))
          )
        }
        return Effect.fail(
          current.tokenFailure._tag === "HttpTimeout"
            ? hopLimitError(settings, current.tokenFailure, `${Http.describe(failure)} without a token`)
            : error(
              "ServiceError",
              `the IMDSv1 request was refused (${Http.describe(failure)}): the instance requires IMDSv2, ` +
                `and the token request failed (${Http.describe(current.tokenFailure)})`
            )
        )
      }
      if (failure._tag === "HttpBody" && failure.tooLarge === true) {
        // It answered, with far more than any metadata document: not an outage, a wrong service.
        return Effect.fail(error("InvalidResponse", `${Http.describe(failure)}; is ${settings.endpoint} an instance metadata service?`))
      }
      if (failure._tag !== "HttpStatus" || failure.status >= 500 || failure.status === 429) {
        const attempts = settings.maxAttempts > 1 ? ` after ${settings.maxAttempts} attempts` : ""
        const token = current._tag === "V1"
          ? `; the IMDSv2 token request failed too (${Http.describe(current.tokenFailure)})`
          : ""
        // Nothing answered: neither this GET nor, when there was no token, the token request.
        const unreachable = !Http.answered(failure) && current._tag === "V1" && !Http.answered(current.tokenFailure)
        return Effect.fail(new Outage({ detail: `${Http.describe(failure)}${attempts}${token}`, unreachable }))
      }
      return Effect.fail(failure)
    })
  )
}

/** GETs a metadata path with `current`, and settles the outcome (see `settle`). */
const get = (
  context: Context,
  current: Access,
  path: string,
  retried = false
): Effect.Effect<Got, Http.HttpStatus | CredentialsError | Outage> =>
  settle(context, current, path, retried)(exchange(context, current._tag === "V2" ? current.token : undefined, path))

/** Until the token request has been silent this long, no IMDSv1 GET is sent beside it. */
const probeDelay = (settings: Settings): Duration.Duration =>
  Duration.min(defaults.v1ProbeDelay, Duration.times(settings.timeout, 0.25))

/**
 * The token request, with the first IMDSv1 GET (`path`) sent beside it once the token request has
 * been silent for `probeDelay`, or at once when it fails sooner. A token wins whenever it comes,
 * within its full timeout: the GET is then aborted and its answer, if any, ignored. Without a
 * token, the GET's outcome (from its own full timeout) is the first answer of the fetch.
 *
 * Why beside and not after: where a hop limit drops the token's answer (a container on an instance
 * with a hop limit of 1), the client sees exactly what a service that accepts and never answers
 * shows, a connection and no byte, so nothing tells the two apart before the timeout. botocore
 * waits out the token's timeout, then the GET's; sent beside it, the GET's wait runs within the
 * token's, and a service that answers nothing costs one timeout (plus the delay), not two.
 */
const tokenBesideProbe = (context: Context, path: string): Effect.Effect<
  Either.Either<
    Redacted.Redacted<string>,
    { readonly tokenFailure: Http.HttpFailure; readonly probe: Exit.Exit<Http.HttpResponse, Http.HttpFailure> }
  >,
  CredentialsError
> =>
  Effect.scoped(Effect.gen(function*() {
    const tokenFailed = yield* Deferred.make<void>()
    // Scoped: a token (or a 400) closes the scope, which aborts the GET wherever it is.
    const probe = yield* Effect.forkScoped(
      Effect.raceFirst(Effect.sleep(probeDelay(context.settings)), Deferred.await(tokenFailed)).pipe(
        Effect.zipRight(exchange(context, undefined, path))
      )
    )
    const fetched = yield* fetchToken(context)
    if (Either.isRight(fetched)) return Either.right(fetched.right)
    yield* Deferred.succeed(tokenFailed, undefined)
    return Either.left({ tokenFailure: fetched.left, probe: yield* Fiber.await(probe) })
  }))

/**
 * The first GET without a token at hand: a new token, else IMDSv1 when the token request fails
 * and IMDSv1 is allowed, the GET having been sent beside the token request (see
 * `tokenBesideProbe`). With IMDSv1 disabled, no GET goes out before the token request ends.
 */
const opening = (context: Context, path: string): Effect.Effect<Got, Http.HttpStatus | CredentialsError | Outage> =>
  Effect.gen(function*() {
    if (context.settings.v1Disabled) return yield* get(context, yield* newAccess(context), path)
    const opened = yield* tokenBesideProbe(context, path)
    if (Either.isRight(opened)) return yield* get(context, { _tag: "V2", token: opened.right }, path)
    const { probe, tokenFailure } = opened.left
    return yield* settle(context, { _tag: "V1", tokenFailure }, path, false)(probe)
  })

/**
 * The first GET of a fetch: with the cached token, else `opening`, unless the session already
 * knows that nothing answers at this endpoint (then no request at all), and after the verdict of
 * a lookup already asking (see `imdsReachability.ts`).
 */
const firstGet = (context: Context, path: string): Effect.Effect<Got, Http.HttpStatus | CredentialsError | Outage> =>
  Effect.flatMap(cachedToken(context), (cached) =>
    Option.isSome(cached)
      ? get(context, { _tag: "V2", token: cached.value }, path)
      : Reachability.gated(
        context.memo,
        context.settings.endpoint,
        opening(context, path),
        (failure) => failure._tag === "Outage" && failure.unreachable ? Option.some(failure.detail) : Option.none(),
        (detail) => Effect.fail(new Outage({ detail, unreachable: true }))
      ))

const unexpectedStatus = (failure: Http.HttpStatus) => {
  const summary = Http.errorSummary(failure.body)
  return error("ServiceError", `${Http.describe(failure)}${summary === undefined ? "" : ` (${summary})`}`)
}

/**
 * Static stability: the same credentials, valid until `now` plus 5 to 10 minutes (uniformly
 * jittered through the `Random` service), never shortened. Logs a warning saying why.
 */
const extend = (credentials: Credentials.Credentials, why: string, settings: Settings) =>
  Effect.gen(function*() {
    const now = yield* Clock.currentTimeMillis
    const min = Duration.toMillis(defaults.staleExtension.min)
    const max = Duration.toMillis(defaults.staleExtension.max)
    const extension = yield* Random.nextIntBetween(min, max + 1)
    const current = Option.match(credentials.expiration, {
      onNone: () => 0,
      onSome: DateTime.toEpochMillis
    })
    const until = Math.max(current, now + extension)
    const extended = Credentials.make({
      accessKeyId: credentials.accessKeyId,
      secretAccessKey: credentials.secretAccessKey,
      sessionToken: Option.getOrUndefined(credentials.sessionToken),
      expiration: DateTime.unsafeMake(until),
      accountId: Option.getOrUndefined(credentials.accountId),
      source,
      provenance: credentials.provenance
    })
    yield* Effect.logWarning(
      `${why}; serving the last instance role credentials until ${new Date(until).toISOString()} ` +
        `(static stability) and trying again before then`
    ).pipe(Effect.annotateLogs({ source, endpoint: settings.endpoint }))
    return extended
  })

/** A 404 from the role paths: no role (the next link may have credentials); any other status is an error. */
const notFoundIsNoRole = (detail: (failure: Http.HttpStatus) => string) =>
(effect: Effect.Effect<Got, Http.HttpStatus | CredentialsError | Outage>) =>
  Effect.catchTag(effect, "HttpStatus", (failure) =>
    Effect.fail<CredentialsUnavailable | CredentialsError>(
      failure.status === 404
        ? new CredentialsUnavailable({ source, reason: "NoRole", detail: detail(failure) })
        : unexpectedStatus(failure)
    ))

const fetchOnce = (context: Context): Effect.Effect<
  Credentials.Credentials,
  CredentialsUnavailable | CredentialsError | Outage
> =>
  Effect.gen(function*() {
    const { settings } = context
    const [listing, afterListing] = yield* firstGet(context, rolePath).pipe(
      notFoundIsNoRole((failure) => `no IAM role is attached to this instance (${Http.describe(failure)})`)
    )
    const role = listing.split(/\r?\n/).map((line: string) => line.trim()).find((line: string) => line !== "")
    if (role === undefined) {
      return yield* new CredentialsUnavailable({
        source,
        reason: "NoRole",
 detail: `no IAM role is attached to this instance (GET ${url(settings, rolePath)} listed none)`
      })
    }
    const rolePathFull = `${rolePath}${encodeURIComponent(role)}`
    const [document, used] = yield* get(context, afterListing, rolePathFull).pipe(
      notFoundIsNoRole((failure) => `the role ${role} is listed but has no credentials (${Http.describe(failure)})`)
    )
    // The service always sends `Code`: a document without one is not from a metadata service.
    const decoded = decode(document, { code: true, token: true, expiration: true })
    const what = `the credentials of role ${role} from ${url(settings, rolePathFull)}`
    if (Either.isLeft(decoded)) {
      return yield* error(
        decoded.left._tag === "NotSuccess" ? "ServiceError" : "InvalidResponse",
        describeProblem(what, decoded.left)
      )
    }
    if (used._tag === "V1" && used.tokenFailure._tag === "HttpTimeout") {
      yield* Effect.logWarning(
        `the IMDSv2 token request timed out but IMDSv1 answered: the instance's metadata hop limit is probably ` +
          `too low for a container (aws ec2 modify-instance-metadata-options --http-put-response-hop-limit 2)`
      ).pipe(Effect.annotateLogs({ source, endpoint: settings.endpoint }))
    }
    const credentials = Credentials.make({
      accessKeyId: decoded.right.accessKeyId,
      secretAccessKey: decoded.right.secretAccessKey,
      sessionToken: decoded.right.token,
      expiration: decoded.right.expiration,
      accountId: decoded.right.accountId,
      source,
      provenance: `instance metadata role ${role} (${settings.endpoint}, ${used._tag === "V2" ? "IMDSv2" : "IMDSv1"})`
    })
    const now = yield* Clock.currentTimeMillis
    if (Credentials.isExpired(credentials, DateTime.unsafeMake(now))) {
      return yield* extend(credentials, "the instance metadata service returned expired credentials", settings)
    }
    return credentials
  })

/**
 * Fetches the role credentials, applying static stability: when the service is unreachable
 * and earlier credentials exist, those are served with their expiry extended.
 */
export const fetchCredentials = (
  settings: Settings,
  state: State,
  memo?: MetadataMemo | undefined
): Effect.Effect<Credentials.Credentials, CredentialsUnavailable | CredentialsError> =>
  Effect.gen(function*() {
    const client = settings.transport
    const context: Context = { settings, client, state, memo }
    const credentials = yield* fetchOnce(context).pipe(
      Effect.catchTag("Outage", (outage) =>
        Effect.flatMap(Ref.get(state.last), (last) =>
          Option.isSome(last)
            ? extend(last.value, `the instance metadata service did not answer (${outage.detail})`, settings)
            : Effect.fail(
              new CredentialsUnavailable({
                source,
                reason: "Unreachable",
 detail: `the instance metadata service at ${settings.endpoint} did not answer (${outage.detail})`
              })
            )))
    )
    yield* Ref.set(state.last, Option.some(credentials))
    return credentials
  })

/**
 * The instance's region from `/latest/meta-data/placement/region`, or `None` when the service
 * cannot tell (unreachable, refused, no such document, or not a region name, or nothing within
 * the bound). Bounded to one timeout in all (`settings.timeout`): the token request, the IMDSv1
 * GET beside it and the GET with the token all end within it, and no attempt starts after it.
 * The region is the last link of a chain that has no other answer, so waiting a second timeout
 * off EC2 would buy nothing.
 */
export const fetchRegion = (
  settings: Settings,
  state: State,
  memo?: MetadataMemo | undefined
): Effect.Effect<Option.Option<string>> =>
  Effect.gen(function*() {
    const client = settings.transport
    const deadline = (yield* Clock.currentTimeMillis) + Duration.toMillis(settings.timeout)
    const context: Context = { settings, client, state, memo, deadline }
    const [text] = yield* firstGet(context, regionPath)
    const region = text.trim()
    return /^[a-z]{2,}(-[a-z0-9]+)+$/.test(region) ? Option.some(region) : Option.none()
  }).pipe(
    Effect.catchAll((failure) =>
      Effect.as(
        Effect.logDebug(`no region from the instance metadata service: ${
          failure._tag === "HttpStatus"
            ? Http.describe(failure)
            : failure._tag === "Outage"
            ? failure.detail
            : failure.message
        }`),
        Option.none<string>()
      )
    )
  )

/**
 * Fetches the role's credentials once with `state`: the settings read now (the caller's
 * overrides, else the environment, else the profile), then the fetch.
 */
export const resolveCredentials = (
  overrides: Overrides,
  state: State
): Effect.Effect<Credentials.Credentials, CredentialsUnavailable | CredentialsError, AwsSession> =>
  Effect.flatMap(resolveSettings(overrides), (settings) =>
    Effect.flatMap(AwsSession, (session) => fetchCredentials(settings, state, session.metadata)))
