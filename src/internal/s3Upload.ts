/**
 * The managed upload both S3 implementations run: the body is cut into parts of `partSize`
 * bytes as it streams in; a body that fits in one part goes in one `PutObject`, anything larger
 * in a multipart upload with `concurrency` parts in flight.
 *
 * Memory: a part is read into a buffer taken with one of `concurrency` permits, and buffer and
 * permit are given back when that part's request has finished; buffers are reused, so the
 * upload allocates at most `concurrency` buffers of `partSize` bytes, whatever the body's size
 * (plus the stream chunk being copied).
 *
 * Failure or interruption (of the caller, of a part, or of the body stream) aborts the multipart
 * upload: the abort is a finalizer of the upload's scope, run after the parts in flight have
 * been interrupted, so S3 keeps no parts behind.
 */
import * as Chunk from "effect/Chunk"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as FiberSet from "effect/FiberSet"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import type * as S3 from "../S3Model.js"
import type { CredentialsError } from "../CredentialsError.js"
import type { S3Error } from "../S3Error.js"
import { type CallContext, failure, maxParts } from "./s3Common.js"

/** A part as `CompleteMultipartUpload` wants it back. */
export interface CompletedPart {
  readonly partNumber: number
  readonly etag: string
  /** Checksums the server returned for the part (`ChecksumCRC32`, ...), passed back on completion. */
  readonly checksums?: Readonly<Record<string, string>> | undefined
}

export interface Written {
  readonly etag: string
  readonly versionId: Option.Option<string>
}

/** The S3 calls an upload makes, bound to one bucket, key, content type and metadata. */
export interface Backend {
  readonly putObject: (bytes: Uint8Array) => Effect.Effect<Written, S3Error | CredentialsError>
  readonly create: Effect.Effect<string, S3Error | CredentialsError>
  readonly uploadPart: (
    uploadId: string,
    partNumber: number,
    bytes: Uint8Array
  ) => Effect.Effect<CompletedPart, S3Error | CredentialsError>
  readonly complete: (
    uploadId: string,
    parts: ReadonlyArray<CompletedPart>
  ) => Effect.Effect<Written, S3Error | CredentialsError>
  readonly abort: (uploadId: string) => Effect.Effect<void, S3Error | CredentialsError>
}

/** Reads a stream of byte chunks into buffers of any size. */
const makeReader = <E, R>(pull: Effect.Effect<Chunk.Chunk<Uint8Array>, Option.Option<E>, R>) => {
  let chunks: ReadonlyArray<Uint8Array> = []
  let index = 0
  let offset = 0
  let ended = false
  /** Whether there is a byte to read, pulling the next chunk when the current one is used up. */
  const available = (): Effect.Effect<boolean, E, R> =>
    Effect.suspend(() => {
      while (index < chunks.length && offset >= chunks[index]!.length) {
        index++
        offset = 0
      }
      if (index < chunks.length) return Effect.succeed(true)
      if (ended) return Effect.succeed(false)
      return Effect.matchEffect(pull, {
        onFailure: Option.match({
          onNone: () => {
            ended = true
            return Effect.succeed(false)
          },
          onSome: (error) => Effect.fail(error)
        }),
        onSuccess: (chunk) => {
          chunks = Chunk.toReadonlyArray(chunk)
          index = 0
          offset = 0
          return available()
        }
      })
    })
  /** Fills `target` as far as the stream goes; returns the bytes written. */
  const fill = (target: Uint8Array): Effect.Effect<number, E, R> =>
    Effect.gen(function*() {
      let filled = 0
      while (filled < target.length && (yield* available())) {
        const current = chunks[index]!
        const n = Math.min(target.length - filled, current.length - offset)
        target.set(current.subarray(offset, offset + n), filled)
        filled += n
        offset += n
      }
      return filled
    })
  return { fill, atEnd: Effect.map(Effect.suspend(available), (more) => !more) }
}

const toStream = <E, R>(body: Uint8Array | string | Stream.Stream<Uint8Array, E, R>): Stream.Stream<Uint8Array, E, R> =>
  typeof body === "string"
    ? Stream.succeed(Buffer.from(body, "utf8"))
    : body instanceof Uint8Array
    ? Stream.succeed(body)
    : body

/** Runs an upload (see the module comment). */
export const upload = <E, R>(
  context: CallContext,
  backend: Backend,
  body: Uint8Array | string | Stream.Stream<Uint8Array, E, R>,
  settings: { readonly partSize: number; readonly concurrency: number }
): Effect.Effect<S3.UploadResult, S3Error | CredentialsError | E, R> =>
  Effect.scoped(Effect.gen(function*() {
    const { concurrency, partSize } = settings
    const reader = makeReader(yield* Stream.toPull(toStream(body)))
    const permits = yield* Effect.makeSemaphore(concurrency)
    // Part buffers, reused: one per permit at most, handed back when its part is done.
    const pool: Array<Buffer> = []
    const takeBuffer = Effect.zipRight(
      permits.take(1),
      Effect.sync(() => pool.pop() ?? Buffer.allocUnsafe(partSize))
    )
    const giveBack = (buffer: Buffer) =>
      Effect.zipRight(
        Effect.sync(() => {
          pool.push(buffer)
        }),
        permits.release(1)
      )

    let buffer = yield* takeBuffer
    const firstSize = yield* reader.fill(buffer)
    if (firstSize < partSize || (yield* reader.atEnd)) {
      const written = yield* backend.putObject(buffer.subarray(0, firstSize))
      return { ...written, size: firstSize, parts: 0 }
    }

    let completed = false
    // Created and registered for abort in one uninterruptible step: an interruption arriving
    // while CreateMultipartUpload is in flight still aborts the upload the server made.
    const uploadId = yield* Effect.acquireRelease(backend.create, (id) =>
      completed ? Effect.void : backend.abort(id).pipe(
        Effect.catchAll((error) =>
          Effect.logWarning(
            `S3 upload to s3://${context.bucket}/${context.key}: could not abort multipart upload ${id}; ` +
              `its parts stay billed until a lifecycle rule or abortMultipartUpload removes them: ${error.message}`
          )
        )
      ))
    // Made after the abort finalizer, so closing the scope interrupts the parts in flight
    // first, then aborts. Finished parts leave the set (and their buffers go back to the pool).
    const fibers = yield* FiberSet.make<void, never>()

    const parts: Array<CompletedPart> = []
    const failed = yield* Deferred.make<never, S3Error | CredentialsError>()
    const start = (partNumber: number, part: Buffer, size: number) =>
      FiberSet.run(
        fibers,
        backend.uploadPart(uploadId, partNumber, part.subarray(0, size)).pipe(
          Effect.matchCauseEffect({
            onSuccess: (done) => Effect.sync(() => parts.push(done)),
            onFailure: (cause) => Deferred.failCause(failed, cause)
          }),
          Effect.ensuring(giveBack(part))
        )
      )

    let partNumber = 1
    let size = firstSize
    yield* start(partNumber, buffer, firstSize)
    const readRest = Effect.gen(function*() {
      while (!(yield* reader.atEnd)) {
        buffer = yield* takeBuffer
        const filled = yield* reader.fill(buffer)
        partNumber++
        if (partNumber > maxParts) {
          return yield* failure(context, {
            reason: "InvalidArgument",
            code: "TooManyParts",
            detail: `the body needs more than ${maxParts} parts of ${partSize} bytes (S3's limit); use a larger partSize`
          })
        }
        size += filled
        yield* start(partNumber, buffer, filled)
      }
    })
    yield* Effect.raceFirst(readRest, Deferred.await(failed))
    // Every permit back means every part has finished.
    yield* Effect.raceFirst(permits.take(concurrency), Deferred.await(failed))

    parts.sort((a, b) => a.partNumber - b.partNumber)
    const written = yield* backend.complete(uploadId, parts)
    completed = true
    return { ...written, size, parts: parts.length }
  }))
