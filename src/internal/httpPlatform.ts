/**
 * A program's own `HttpClient` as a `Transport` for the metadata sources (see `http.ts`), for
 * when one is given in the sources' options.
 */
import * as Headers from "@effect/platform/Headers"
import * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import {
  HttpBody,
  type HttpFailure,
  type HttpResponse,
  type HttpUnreachable,
  maxBodyBytes,
  nodeTransport,
  redactedHeaderNames,
  type Request,
  transportFailure,
  type Transport
} from "./http.js"

const toFailure = (request: Request, error: HttpClientError.HttpClientError): HttpUnreachable | HttpBody =>
  transportFailure(
    request,
    error.cause,
    error._tag === "ResponseError",
    error._tag === "RequestError" && error.reason === "InvalidUrl"
  )

class TooLarge {
  readonly _tag = "TooLarge"
}

const readBody = (request: Request, stream: Stream.Stream<Uint8Array, HttpClientError.ResponseError>) =>
  stream.pipe(
    Stream.runFoldEffect(
      { chunks: [] as Array<Uint8Array>, size: 0 },
      (acc, bytes): Effect.Effect<{ chunks: Array<Uint8Array>; size: number }, TooLarge> => {
        if (acc.size + bytes.length > maxBodyBytes) return Effect.fail(new TooLarge())
        acc.chunks.push(bytes)
        return Effect.succeed({ chunks: acc.chunks, size: acc.size + bytes.length })
      }
    ),
    Effect.map(({ chunks }) => Buffer.concat(chunks).toString("utf8")),
    Effect.mapError((error): HttpUnreachable | HttpBody =>
      error instanceof TooLarge
        ? new HttpBody({
          method: request.method,
          url: request.url,
          detail: `the response body is larger than ${maxBodyBytes} bytes`,
          tooLarge: true
        })
        : toFailure(request, error)
    )
  )

/** `client` as a transport: no trace propagation headers, the token headers redacted in its spans. */
export const fromClient = (client: HttpClient.HttpClient): Transport => {
  const prepared = HttpClient.withTracerPropagation(client, false)
  return {
    execute: (request) => {
      const base = request.method === "PUT" ? HttpClientRequest.put(request.url) : HttpClientRequest.get(request.url)
      const withHeaders = request.headers === undefined ? base : HttpClientRequest.setHeaders(base, request.headers)
      return prepared.execute(withHeaders).pipe(
        Effect.mapError((error) => toFailure(request, error)),
        Effect.flatMap((response) =>
          Effect.map(readBody(request, response.stream), (body): HttpResponse => ({
            status: response.status,
            headers: { ...response.headers },
            body
          }))
        ),
        Effect.locallyWith(Headers.currentRedactedNames, (names) => [...names, ...redactedHeaderNames])
      )
    }
  }
}

/**
 * The transport a metadata source sends with: the program's own `HttpClient` when the source's
 * options give one, else Node's `http`/`https` (see `http.ts` for why that is the default).
 */
export const transportFor = (client: HttpClient.HttpClient | undefined): Transport =>
  client === undefined ? nodeTransport : fromClient(client)

export type { HttpFailure }
