/**
 * Presigned URLs on the SDK's client: the request the client would send for a GetObject or a
 * PutObject (its endpoint, addressing style and signing region, as the client resolves them),
 * signed as a query string with the credentials `presign` was given, for the lifetime it was
 * given. The lifetime is decided before (`s3Common.presignLifetime`: never past the expiry of
 * those same credentials).
 */
import type { S3Client } from "@aws-sdk/client-s3"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Credentials from "../Credentials.js"
import type { S3Error } from "../S3Error.js"
import { type CallContext, failure } from "./s3Common.js"
import type { Sdk } from "./s3Client.js"

/** What the client would send, stopped before it is signed. */
interface UnsignedRequest {
  readonly protocol: string
  readonly hostname: string
  readonly port: number | undefined
  readonly path: string
  readonly query: Record<string, string | Array<string> | null>
  readonly signingRegion: string
}

const record = (u: unknown): Record<string, unknown> =>
  typeof u === "object" && u !== null ? u as Record<string, unknown> : {}

/** Runs the client's middleware up to signing and keeps the request it built. */
const unsignedRequest = async (
  client: S3Client,
  command: { readonly input: object; readonly resolveMiddleware: (...args: Array<never>) => unknown },
  region: string
): Promise<UnsignedRequest> => {
  const stack = client.middlewareStack.clone()
  let captured: unknown
  let signingRegion: unknown
  stack.addRelativeTo(
    (_next: unknown, handlerContext: Record<string, unknown>) => (args: { readonly request: unknown }) => {
      captured = args.request
      const scheme = record(handlerContext.selectedHttpAuthScheme)
      signingRegion = record(scheme.signingProperties).signing_region
      return Promise.resolve({ output: { $metadata: {} }, response: {} })
    },
    { relation: "before", toMiddleware: "httpSigningMiddleware", name: "effectAwsCredentialsPresign", override: true }
  )
  const handler = (command.resolveMiddleware as (...args: Array<unknown>) => (args: unknown) => Promise<unknown>)(
    stack,
    client.config,
    {}
  )
  await handler({ input: command.input })
  const request = record(captured)
  return {
    protocol: typeof request.protocol === "string" ? request.protocol : "https:",
    hostname: String(request.hostname),
    port: typeof request.port === "number" ? request.port : undefined,
    path: typeof request.path === "string" ? request.path : "/",
    query: { ...record(request.query) } as Record<string, string | Array<string> | null>,
    signingRegion: typeof signingRegion === "string" ? signingRegion : region
  }
}

/** RFC 3986 escaping, as SigV4 canonicalizes query strings. */
const escape = (text: string): string =>
  encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)

const queryString = (query: Record<string, string | Array<string> | null | undefined>): string =>
  Object.entries(query)
    .flatMap(([name, value]) =>
      (value === null || value === undefined ? [] : Array.isArray(value) ? value : [value]).map((v) =>
        `${escape(name)}=${escape(v)}`
      )
    )
    .join("&")

/**
 * The URL of `method` on `bucket`/`key`, signed with `credentials` for `seconds` from `now`.
 * `toS3Error` maps a failure of the client's own request building (an endpoint that does not
 * resolve, a bucket name it refuses).
 */
export const presign = (options: {
  readonly sdk: Sdk
  readonly client: S3Client
  readonly region: string
  readonly context: CallContext
  readonly method: "GET" | "PUT"
  readonly credentials: Credentials.Credentials
  readonly seconds: number
  readonly now: DateTime.Utc
  readonly toS3Error: (context: CallContext, error: unknown) => S3Error
}): Effect.Effect<string, S3Error> =>
  Effect.gen(function*() {
    const { client, context, method, sdk } = options
    const input = { Bucket: context.bucket, Key: context.key }
    const command = method === "GET" ? new sdk.GetObjectCommand(input) : new sdk.PutObjectCommand(input)
    const request = yield* Effect.tryPromise({
      try: () => unsignedRequest(client, command, options.region),
      catch: (error) => options.toS3Error(context, error)
    })
    const host = request.port === undefined ? request.hostname : `${request.hostname}:${request.port}`
    const signer = new sdk.SignatureV4({
      service: "s3",
      region: request.signingRegion,
      credentials: Credentials.toAwsIdentity(options.credentials),
      sha256: client.config.sha256,
      uriEscapePath: false,
      applyChecksum: false
    })
    const signed = yield* Effect.tryPromise({
      try: () =>
        signer.presign(
          {
            method,
            protocol: request.protocol,
            hostname: request.hostname,
            ...(request.port === undefined ? {} : { port: request.port }),
            path: request.path,
            query: request.query,
            // Presigned S3 URLs sign no payload: whoever uses the URL sends the body.
            headers: { host, "x-amz-content-sha256": "UNSIGNED-PAYLOAD" }
          },
          {
            expiresIn: options.seconds,
            signingDate: DateTime.toDate(options.now),
            unsignableHeaders: new Set(["content-type"])
          }
        ),
      catch: (error) =>
        failure(context, {
          reason: "Other",
          code: "SigningFailed",
          detail: `could not sign the URL: ${error instanceof Error ? error.name : "unknown error"}`
        })
    })
    const search = queryString(signed.query ?? {})
    return `${request.protocol}//${host}${request.path}${search === "" ? "" : `?${search}`}`
  })
