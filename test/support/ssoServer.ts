/**
 * A loopback stand-in for the three services behind IAM Identity Center and `aws login`, speaking
 * their wire protocols as the AWS SDK for JavaScript and botocore send them:
 *
 * - the SSO portal, `GET /federation/credentials?role_name=&account_id=` with the
 *   `x-amz-sso_bearer_token` header (rest-json; errors as `x-amzn-ErrorType` +
 *   `{"message"}`: `UnauthorizedException` 401, `ResourceNotFoundException` 404,
 *   `InvalidRequestException` 400);
 * - SSO-OIDC `CreateToken`, `POST /token` with a JSON body (`clientId`, `clientSecret`,
 *   `grantType`, `refreshToken`); errors `{"error", "error_description"}`
 *   (`InvalidGrantException`, `InvalidClientException`, `UnsupportedGrantTypeException`);
 * - the sign-in service's `CreateOAuth2Token`, `POST /v1/token` with `{clientId, grantType,
 *   refreshToken}` and a DPoP proof that is verified (ES256 signature over the embedded JWK,
 *   `htm`, `htu`, `iat`, `jti`); errors `{"error", "message"}` (`AccessDeniedException` with
 *   `TOKEN_EXPIRED` 401, `ValidationException` 400).
 *
 * Bound to 127.0.0.1 on a free port and closed with the test's scope. Faults are queued per
 * route and consumed one per request: error statuses, slow answers, dropped connections,
 * malformed JSON, expired credentials, or a scripted answer. Every request is counted and kept.
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as crypto from "node:crypto"
import * as http from "node:http"
import type { AddressInfo } from "node:net"

export type Route = "portal" | "oidc" | "signin"

export type Fault =
  /** An AWS error: status, `x-amzn-ErrorType`, body fields. */
  | { readonly _tag: "Error"; readonly status: number; readonly type: string; readonly body?: Record<string, unknown> }
  /** Wait this long, then answer normally (the client may give up first). */
  | { readonly _tag: "Slow"; readonly ms: number }
  /** Destroy the connection without an answer. */
  | { readonly _tag: "Drop" }
  /** Answer 200 with truncated JSON. */
  | { readonly _tag: "Malformed" }
  /** Portal only: answer with credentials that expired a minute ago. */
  | { readonly _tag: "ExpiredCredentials" }
  /** Answer exactly this (after the request was checked). */
  | { readonly _tag: "Respond"; readonly status: number; readonly body: unknown }

export const Fault = {
  unauthorized: {
    _tag: "Error",
    status: 401,
    type: "UnauthorizedException",
    body: { message: "Session token not found or invalid" }
  },
  forbidden: { _tag: "Error", status: 403, type: "ForbiddenException", body: { message: "Forbidden" } },
  notFound: { _tag: "Error", status: 404, type: "ResourceNotFoundException", body: { message: "No access" } },
  serverError: { _tag: "Error", status: 500, type: "InternalServerException", body: { message: "internal error" } },
  throttled: { _tag: "Error", status: 429, type: "TooManyRequestsException", body: { message: "slow down" } },
  loginExpired: {
    _tag: "Error",
    status: 401,
    type: "AccessDeniedException",
    body: { error: "TOKEN_EXPIRED", message: "Refresh token expired" }
  },
  slow: (ms: number): Fault => ({ _tag: "Slow", ms }),
  drop: { _tag: "Drop" },
  malformed: { _tag: "Malformed" },
  expiredCredentials: { _tag: "ExpiredCredentials" },
  respond: (status: number, body: unknown): Fault => ({ _tag: "Respond", status, body })
} as const satisfies Record<string, Fault | ((...args: Array<any>) => Fault)>

export interface RecordedRequest {
  readonly route: Route | "unknown"
  readonly method: string
  readonly url: string
  readonly headers: http.IncomingHttpHeaders
  readonly body: unknown
  /** For the sign-in route: what was wrong with the DPoP proof, if anything. */
  readonly dpopProblem?: string | undefined
}

export interface RoleCredentials {
  readonly accessKeyId: string
  readonly secretAccessKey: string
  readonly sessionToken: string
  readonly expiration: number
}

export interface Options {
  /** Milliseconds since the epoch, for credential expirations. Default `Date.now`. */
  readonly now?: () => number
  /**
   * The `accessKeyId` the portal issues for a role. Default `ASIASSO000n` (a new one per call); a
   * function of the role makes several clients (botocore and us, say) see the same key.
   */
  readonly accessKeyId?: ((accountId: string, roleName: string) => string) | undefined
  /** Lifetime of portal credentials, or one per successive issue (the last repeats). Default 1 h. */
  readonly credentialLifetimesMs?: ReadonlyArray<number>
  /** `expiresIn` of SSO-OIDC tokens. Default 3600. */
  readonly oidcExpiresIn?: number
  /** `expiresIn` of sign-in credentials. Default 900. */
  readonly signinExpiresIn?: number
}

export interface SsoServer {
  readonly url: string
  readonly calls: Record<Route, number>
  readonly requests: ReadonlyArray<RecordedRequest>
  /** Bearer tokens the portal accepts. */
  readonly acceptToken: (token: string) => void
  readonly revokeToken: (token: string) => void
  /** Role assignments the portal knows (`accountId/roleName`); default: any. */
  readonly assignRole: (accountId: string, roleName: string) => void
  /** Credentials the portal issued, in order. */
  readonly issued: ReadonlyArray<RoleCredentials>
  /** A client registration and a refresh token SSO-OIDC accepts. */
  readonly registerOidc: (options: { clientId: string; clientSecret: string; refreshToken: string }) => void
  /** A login session (client id + refresh token) the sign-in service accepts. */
  readonly registerLogin: (options: { clientId: string; refreshToken: string }) => void
  /** Queues faults for a route; each request consumes one. */
  readonly inject: (route: Route, ...faults: ReadonlyArray<Fault>) => void
}

const routeOf = (method: string, pathname: string): Route | "unknown" =>
  method === "GET" && pathname === "/federation/credentials"
    ? "portal"
    : method === "POST" && pathname === "/token"
    ? "oidc"
    : method === "POST" && pathname === "/v1/token"
    ? "signin"
    : "unknown"

/** Checks a DPoP proof (RFC 9449) for `method` and `url`; returns the problem, or undefined. */
export const verifyDpop = (proof: string | undefined, method: string, url: string): string | undefined => {
  if (proof === undefined || proof === "") return "no DPoP header"
  const parts = proof.split(".")
  if (parts.length !== 3) return "not a JWT"
  const [h, p, s] = parts as [string, string, string]
  let header: Record<string, any>
  let payload: Record<string, any>
  try {
    header = JSON.parse(Buffer.from(h, "base64url").toString("utf8"))
    payload = JSON.parse(Buffer.from(p, "base64url").toString("utf8"))
  } catch {
    return "undecodable JWT"
  }
  if (header.typ !== "dpop+jwt") return "typ is not dpop+jwt"
  if (header.alg !== "ES256") return "alg is not ES256"
  if (header.jwk?.kty !== "EC" || header.jwk?.crv !== "P-256") return "jwk is not an EC P-256 key"
  let key: crypto.KeyObject
  try {
    key = crypto.createPublicKey({ key: { kty: "EC", crv: "P-256", x: header.jwk.x, y: header.jwk.y }, format: "jwk" })
  } catch {
    return "jwk is not a valid key"
  }
  const ok = crypto.verify(
    "sha256",
    Buffer.from(`${h}.${p}`),
    { key, dsaEncoding: "ieee-p1363" },
    Buffer.from(s, "base64url")
  )
  if (!ok) return "bad signature"
  if (payload.htm !== method) return `htm is ${payload.htm}, not ${method}`
  if (payload.htu !== url) return `htu is ${payload.htu}, not ${url}`
  if (typeof payload.iat !== "number") return "no iat"
  if (typeof payload.jti !== "string" || payload.jti === "") return "no jti"
  return undefined
}

/** Starts the server for the scope. */
export const make = (options: Options = {}): Effect.Effect<SsoServer, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.async<{ server: http.Server; api: SsoServer; timers: Set<NodeJS.Timeout> }>((resume) => {
      const now = options.now ?? (() => Date.now())
      const lifetimes = options.credentialLifetimesMs ?? [3600_000]
      const calls: Record<Route, number> = { portal: 0, oidc: 0, signin: 0 }
      const requests: Array<RecordedRequest> = []
      const faults: Record<Route, Array<Fault>> = { portal: [], oidc: [], signin: [] }
      const tokens = new Set<string>()
      const roles = new Set<string>()
      const issued: Array<RoleCredentials> = []
      const oidcClients = new Map<string, string>()
      const oidcRefresh = new Set<string>()
      const loginRefresh = new Map<string, string>()
      const timers = new Set<NodeJS.Timeout>()
      let counter = 0
      let port = 0

      const send = (
        res: http.ServerResponse,
        status: number,
        body: unknown,
        errorType?: string
      ) => {
        res.statusCode = status
        res.setHeader("content-type", "application/json")
        res.setHeader("x-amzn-requestid", crypto.randomUUID())
        if (errorType !== undefined) res.setHeader("x-amzn-errortype", errorType)
        res.end(JSON.stringify(body))
      }

      const answer = (
        route: Route,
        req: http.IncomingMessage,
        body: any,
        res: http.ServerResponse,
        fault: Fault | undefined,
        dpopProblem: string | undefined
      ) => {
        const url = new URL(req.url ?? "/", `http://127.0.0.1:${port}`)
        if (fault?._tag === "Error") return send(res, fault.status, fault.body ?? {}, fault.type)
        if (fault?._tag === "Malformed") {
          res.setHeader("content-type", "application/json")
          return res.end("{\"roleCredentials\": {\"accessKeyId\": \"ASIA")
        }
        switch (route) {
          case "portal": {
            const token = req.headers["x-amz-sso_bearer_token"]
            const roleName = url.searchParams.get("role_name")
            const accountId = url.searchParams.get("account_id")
            if (roleName === null || accountId === null) {
              return send(res, 400, { message: "role_name and account_id are required" }, "InvalidRequestException")
            }
            if (typeof token !== "string" || !tokens.has(token)) {
              return send(res, 401, { message: "Session token not found or invalid" }, "UnauthorizedException")
            }
            if (roles.size > 0 && !roles.has(`${accountId}/${roleName}`)) {
              return send(res, 404, { message: "No access" }, "ResourceNotFoundException")
            }
            if (fault?._tag === "Respond") return send(res, fault.status, fault.body)
            const n = ++counter
            const lifetime = lifetimes[Math.min(issued.length, lifetimes.length - 1)] ?? 3600_000
            const credentials: RoleCredentials = {
              accessKeyId: options.accessKeyId?.(accountId, roleName) ?? `ASIASSO${String(n).padStart(4, "0")}`,
              secretAccessKey: `sso-secret-${n}-${crypto.randomBytes(6).toString("hex")}`,
              sessionToken: `sso-session-${n}-${crypto.randomBytes(6).toString("hex")}`,
              expiration: fault?._tag === "ExpiredCredentials" ? now() - 60_000 : now() + lifetime
            }
            issued.push(credentials)
            return send(res, 200, { roleCredentials: credentials })
          }
          case "oidc": {
            if (body?.grantType !== "refresh_token") {
              return send(res, 400, { error: "unsupported_grant_type" }, "UnsupportedGrantTypeException")
            }
            if (oidcClients.get(body?.clientId) !== body?.clientSecret) {
              return send(res, 401, { error: "invalid_client" }, "InvalidClientException")
            }
            if (!oidcRefresh.has(body?.refreshToken)) {
              const invalid = { error: "invalid_grant", error_description: "Invalid refresh token" }
              return send(res, 400, invalid, "InvalidGrantException")
            }
            if (fault?._tag === "Respond") return send(res, fault.status, fault.body)
            const n = ++counter
            const accessToken = `oidc-access-${n}-${crypto.randomBytes(6).toString("hex")}`
            const refreshToken = `oidc-refresh-${n}-${crypto.randomBytes(6).toString("hex")}`
            oidcRefresh.delete(body.refreshToken)
            oidcRefresh.add(refreshToken)
            tokens.add(accessToken)
            return send(res, 200, {
              accessToken,
              tokenType: "Bearer",
              expiresIn: options.oidcExpiresIn ?? 3600,
              refreshToken
            })
          }
          case "signin": {
            if (dpopProblem !== undefined) {
              const invalid = { error: "INVALID_REQUEST", message: `invalid DPoP proof: ${dpopProblem}` }
              return send(res, 400, invalid, "ValidationException")
            }
            if (body?.grantType !== "refresh_token" || typeof body?.clientId !== "string") {
              return send(res, 400, { error: "INVALID_REQUEST", message: "bad request" }, "ValidationException")
            }
            if (fault?._tag === "Respond") {
              return fault.status >= 400
                ? send(res, fault.status, fault.body, (fault.body as any)?.__type ?? "ValidationException")
                : send(res, fault.status, fault.body)
            }
            if (loginRefresh.get(body.refreshToken) !== body.clientId) {
              const denied = { error: "TOKEN_EXPIRED", message: "Refresh token expired" }
              return send(res, 401, denied, "AccessDeniedException")
            }
            const n = ++counter
            const refreshToken = `login-refresh-${n}-${crypto.randomBytes(6).toString("hex")}`
            loginRefresh.delete(body.refreshToken)
            loginRefresh.set(refreshToken, body.clientId)
            return send(res, 200, {
              accessToken: {
                accessKeyId: `ASIALOGIN${String(n).padStart(4, "0")}`,
                secretAccessKey: `login-secret-${n}-${crypto.randomBytes(6).toString("hex")}`,
                sessionToken: `login-session-${n}-${crypto.randomBytes(6).toString("hex")}`
              },
              tokenType: "aws_sigv4",
              expiresIn: options.signinExpiresIn ?? 900,
              refreshToken
            })
          }
        }
      }

      const server = http.createServer((req, res) => {
        const chunks: Array<Buffer> = []
        req.on("data", (chunk: Buffer) => chunks.push(chunk))
        req.on("end", () => {
          const url = new URL(req.url ?? "/", `http://127.0.0.1:${port}`)
          const route = routeOf(req.method ?? "GET", url.pathname)
          const text = Buffer.concat(chunks).toString("utf8")
          let body: unknown = undefined
          try {
            body = text === "" ? undefined : JSON.parse(text)
          } catch {
            body = text
          }
          const dpopProblem = route === "signin"
            ? verifyDpop(
              typeof req.headers.dpop === "string" ? req.headers.dpop : undefined,
              "POST",
              // The URL the client used (a proxy in front passes its own Host through).
              `http://${req.headers.host ?? `127.0.0.1:${port}`}${url.pathname}`
            )
            : undefined
          const method = req.method ?? "GET"
          requests.push({ route, method, url: req.url ?? "/", headers: req.headers, body, dpopProblem })
          if (route === "unknown") {
            return send(res, 404, { message: `no route ${method} ${url.pathname}` }, "UnknownOperationException")
          }
          calls[route]++
          const fault = faults[route].shift()
          if (fault?._tag === "Drop") {
            req.socket.destroy()
            return
          }
          if (fault?._tag === "Slow") {
            const timer = setTimeout(() => {
              timers.delete(timer)
              if (!res.destroyed) answer(route, req, body, res, undefined, dpopProblem)
            }, fault.ms)
            timers.add(timer)
            return
          }
          answer(route, req, body, res, fault, dpopProblem)
        })
      })

      const api: SsoServer = {
        get url() {
          return `http://127.0.0.1:${port}`
        },
        calls,
        requests,
        acceptToken: (token) => void tokens.add(token),
        revokeToken: (token) => void tokens.delete(token),
        assignRole: (accountId, roleName) => void roles.add(`${accountId}/${roleName}`),
        issued,
        registerOidc: ({ clientId, clientSecret, refreshToken }) => {
          oidcClients.set(clientId, clientSecret)
          oidcRefresh.add(refreshToken)
        },
        registerLogin: ({ clientId, refreshToken }) => void loginRefresh.set(refreshToken, clientId),
        inject: (route, ...more) => void faults[route].push(...more)
      }
      server.listen(0, "127.0.0.1", () => {
        port = (server.address() as AddressInfo).port
        resume(Effect.succeed({ server, api, timers }))
      })
    }),
    ({ server, timers }) =>
      Effect.async<void>((resume) => {
        for (const timer of timers) clearTimeout(timer)
        server.closeAllConnections()
        server.close(() => resume(Effect.void))
      })
  ).pipe(Effect.map(({ api }) => api))
