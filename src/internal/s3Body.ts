/**
 * Bodies on the SDK's client, both ways: a `getObject` body read from Node's `Readable` as a
 * `Stream` in batches, a body collected into memory under a cap, and a stream body handed to the
 * SDK as a `Readable` whose failure aborts the request instead of stalling it.
 */
import * as NodeStream from "@effect/platform-node/NodeStream"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type { Readable } from "node:stream"
import type { S3Error } from "../S3Error.js"
import { type CallContext, failure } from "./s3Common.js"

/** A body pull returns once this much has arrived (or the body ended). */
const batchBytes = 1024 * 1024

/** A body is paused when this much waits to be pulled (its memory bound for a slow reader). */
const pauseBytes = 4 * 1024 * 1024

/** A body's read failure as an `S3Error`: a silent connection is `Timeout`, a broken one `Unreachable`. */
const bodyError = (
  context: CallContext,
  error: unknown,
  toS3Error: (context: CallContext, error: unknown, during: "body") => S3Error
): S3Error => {
  const mapped = toS3Error(context, error, "body")
  return mapped.reason === "Timeout" ? mapped : failure(context, {
    reason: mapped.reason,
    code: mapped.code,
    detail: `reading the body failed: ${mapped.detail}`
  })
}

/**
 * Reads a body: each pull returns the chunks that have arrived once they make 1 MiB (or the
 * body has ended), so a 16 MiB body costs 16 pulls rather than one per network read (a pull
 * costs tens of microseconds of stream machinery, which on a fast download is time the socket
 * is not read); past 4 MiB waiting to be pulled the body is paused (backpressure; pausing sooner
 * slowed fast downloads measurably). Node's `'readable'`-event reader and
 * `Stream.fromAsyncIterable` both cost a millisecond or more per small body. A body left before
 * its end is destroyed with the scope, which closes its connection. A connection silent for
 * `idleTimeout` is destroyed by the SDK's handler (`socketTimeout`), and the read fails with
 * reason `Timeout`: no timer of ours per body or per chunk.
 */
const bodyReader = (
  context: CallContext,
  readable: Readable,
  toS3Error: (context: CallContext, error: unknown, during: "body") => S3Error
): Effect.Effect<Effect.Effect<Option.Option<ReadonlyArray<Uint8Array>>, S3Error>, never, Scope.Scope> =>
  Effect.gen(function*() {
    let ended = false
    let failed: S3Error | undefined
    let queue: Array<Uint8Array> = []
    let queued = 0
    let wake: (() => void) | undefined
    readable.on("data", (chunk: Uint8Array) => {
      queue.push(chunk)
      queued += chunk.length
      if (queued >= pauseBytes) readable.pause()
      // A waiting pull is woken once a batch has gathered.
      if (queued >= batchBytes) wake?.()
    })
    readable.once("end", () => {
      ended = true
      wake?.()
    })
    readable.once("error", (error) => {
      failed = bodyError(context, error, toS3Error)
      wake?.()
    })
    yield* Scope.addFinalizer(yield* Effect.scope, Effect.sync(() => ended || readable.destroy()))
    const pull: Effect.Effect<Option.Option<ReadonlyArray<Uint8Array>>, S3Error> = Effect.suspend(() => {
      // A pull takes a whole batch, or what is left at the end: taking whatever has arrived
      // would take a network read or two per pull whenever the reader keeps up.
      if (queue.length > 0 && (queued >= batchBytes || ended || failed !== undefined)) {
        const out = queue
        queue = []
        queued = 0
        if (readable.isPaused()) readable.resume()
        return Effect.succeed(Option.some(out))
      }
      if (failed !== undefined) return Effect.fail(failed)
      if (ended) return Effect.succeed(Option.none())
      return Effect.async<Option.Option<ReadonlyArray<Uint8Array>>, S3Error>((resume) => {
        wake = () => {
          wake = undefined
          resume(pull)
        }
        return Effect.sync(() => {
          wake = undefined
        })
      })
    })
    return pull
  })

/** A `getObject` body as a stream of batches (see `bodyReader`). */
export const bodyStream = (
  context: CallContext,
  readable: Readable,
  toS3Error: (context: CallContext, error: unknown, during: "body") => S3Error
): Stream.Stream<Uint8Array, S3Error> =>
  Stream.unwrapScoped(
    Effect.map(
      bodyReader(context, readable, toS3Error),
      (pull) =>
        Stream.repeatEffectChunkOption(
          Effect.flatMap(Effect.mapError(pull, Option.some), Option.match({
            onNone: () => Effect.fail(Option.none()),
            onSome: (chunks) => Effect.succeed(Chunk.unsafeFromArray(chunks))
          }))
        )
    )
  )

/**
 * Reads a whole body into memory; resolves with the bytes, or with the size reached once it
 * passed `maxBytes` (the body is then destroyed). Aborting the signal destroys the body.
 */
export const collectBody = (readable: Readable, maxBytes: number, signal: AbortSignal): Promise<Uint8Array | number> =>
  new Promise((resolve, reject) => {
    const chunks: Array<Buffer> = []
    let size = 0
    const onAbort = () => readable.destroy()
    signal.addEventListener("abort", onAbort, { once: true })
    const done = () => signal.removeEventListener("abort", onAbort)
    readable.on("data", (chunk: Buffer) => {
      size += chunk.length
      if (size > maxBytes) {
        done()
        readable.destroy()
        resolve(size)
      } else {
        chunks.push(chunk)
      }
    })
    readable.once("end", () => {
      done()
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size))
    })
    readable.once("error", (error) => {
      done()
      reject(error)
    })
  })

/**
 * A stream body for the SDK, and how it failed. When the stream fails (a wrong length, the
 * caller's own error) its error is kept and `signal` aborts the request; the `Readable` handed to
 * the SDK never errors itself, because the SDK's aws-chunked wrapper would not pass the error on
 * to the request (which would then wait for the rest of the body until the socket timed out).
 * The caller destroys the `Readable` when the request is over.
 */
export const streamedBody = <E, R>(
  body: Stream.Stream<Uint8Array, E, R>
): Effect.Effect<
  { readonly readable: Readable; readonly signal: AbortSignal; readonly failure: () => Option.Option<E> },
  never,
  R
> =>
  Effect.gen(function*() {
    let bodyFailure: Option.Option<E> = Option.none()
    const controller = new AbortController()
    const kept = body.pipe(
      Stream.catchAll((error) =>
        Stream.fromEffect(Effect.sync(() => {
          bodyFailure = Option.some(error)
          controller.abort()
        })).pipe(Stream.drain, Stream.concat(Stream.never))
      )
    )
    const readable = yield* NodeStream.toReadable(kept)
    return { readable, signal: controller.signal, failure: () => bodyFailure }
  })
