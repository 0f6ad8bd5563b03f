/**
 * The S3 service on a moto it starts itself (`python3 -m moto.server` on a free loopback port),
 * next to the raw `S3Client` on the same moto, in one run. `npm run bench` runs it in a process
 * of its own, as a program that streams objects would be (the heap the other benchmarks leave
 * behind is not what a 256 MiB transfer costs), on the built package (`dist/`, what users run):
 * - memory: a 256 MiB object streamed up with `upload` (8 MiB parts, 4 at a time) and down with
 *   `getObject`, sampling this process's resident set size every 20 ms; the growth over the
 *   baseline (taken after a 24 MiB warm-up round trip) must stay under 64 MiB;
 * - operations per second: small PUTs and GETs (4 KiB, 300 per sample, 8 at a time) through `S3`
 *   and through `client.send`;
 * - throughput: 16 MiB GETs (streamed) and PUTs, MB/s through both, 4 requests per sample.
 * Each figure is a series of interleaved pairs (`pairs.ts`); ratios are ours / raw (1.00 = same
 * speed; the goal is 0.97 or better), the median of the pairs' ratios, so that moto's own drift
 * hits both alike. With `BENCH_S3_ROWS` set, the rows are also written there as JSON (how
 * `npm run bench` gets them). Needs `npm run build` first (`npm run bench` does it). Never
 * asserted in tests.
 */
import { GetObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Stream from "effect/Stream"
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as path from "node:path"
import type { Readable } from "node:stream"
import { fileURLToPath, pathToFileURL } from "node:url"
import { compare, type Row, single, table } from "./pairs.js"

const here = path.dirname(fileURLToPath(import.meta.url))
// The built package, typed by its sources (so that this file typechecks before a build).
const { AwsCredentials, AwsRegion, S3 }: typeof import("../../src/index.js") = await import(
  pathToFileURL(path.resolve(here, "..", "..", "dist", "index.js")).href
)

const MiB = 1024 * 1024
const keys = { accessKeyId: "AKIDBENCHS3", secretAccessKey: "bench-secret" }

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      server.close(() => resolve(typeof address === "object" && address !== null ? address.port : 0))
    })
  })

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

const startMoto = async (): Promise<{ readonly url: string; readonly child: ChildProcess }> => {
  const port = await freePort()
  const child = spawn("python3", ["-m", "moto.server", "-H", "127.0.0.1", "-p", String(port)], { stdio: "ignore" })
  const url = `http://127.0.0.1:${port}`
  for (let i = 0; i < 200 && child.exitCode === null; i++) {
    try {
      if ((await fetch(`${url}/moto-api/`, { signal: AbortSignal.timeout(1000) })).ok) return { url, child }
    } catch {
      // not up yet
    }
    await sleep(100)
  }
  child.kill("SIGKILL")
  throw new Error(`moto did not start on port ${port}`)
}

/** Peak resident set size while `run` runs, sampled every 20 ms. */
const peakRss = async <A>(run: () => Promise<A>): Promise<{ readonly value: A; readonly peak: number }> => {
  let peak = process.memoryUsage.rss()
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss())
  }, 20)
  try {
    const value = await run()
    return { value, peak: Math.max(peak, process.memoryUsage.rss()) }
  } finally {
    clearInterval(timer)
  }
}

/**
 * `bytes` bytes as fresh 64 KiB chunks made one at a time, as a file read stream produces them
 * (`Stream.range` emits 4,096 numbers per chunk by default: mapped to buffers, that would be the
 * whole body at once).
 */
const generated = (bytes: number): Stream.Stream<Uint8Array> =>
  Stream.range(0, Math.ceil(bytes / (64 * 1024)) - 1, 1).pipe(
    Stream.map((i) => Buffer.allocUnsafe(64 * 1024).fill(i & 0xff))
  )

const drainNode = (body: Readable): Promise<number> =>
  new Promise((resolve, reject) => {
    let size = 0
    body.on("data", (chunk: Buffer) => {
      size += chunk.length
    })
    body.once("end", () => resolve(size))
    body.once("error", reject)
  })

/** Runs `task` for indices 0..n-1, `concurrency` at a time; returns the seconds it took. */
const timed = async (n: number, concurrency: number, task: (i: number) => Promise<unknown>): Promise<number> => {
  let next = 0
  const start = process.hrtime.bigint()
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < n) await task(next++)
  }))
  return Number(process.hrtime.bigint() - start) / 1e9
}

/** Row 8 of the table (GET 16 MiB, PUT and GET 4 KiB), then PUT 16 MiB and the memory figure. */
export const s3 = async (): Promise<ReadonlyArray<Row>> => {
  const moto = await startMoto()
  const layer = S3.layer({ endpoint: moto.url, forcePathStyle: true }).pipe(
    Layer.provide(Layer.merge(AwsCredentials.layerStatic(keys), AwsRegion.layerStatic("us-east-1")))
  )
  const runtime = ManagedRuntime.make(layer)
  const raw = new S3Client({ region: "us-east-1", endpoint: moto.url, forcePathStyle: true, credentials: keys })
  try {
    const service = await runtime.runPromise(S3.S3)
    const ours = <A, E>(effect: Effect.Effect<A, E>) => runtime.runPromise(effect)
    const bucket = "bench-s3"
    await ours(service.createBucket(bucket))
    await ours(service.putObject(bucket, "warm-up", "x"))

    // Memory: 256 MiB up and down. A 24 MiB round trip first, so that the baseline already has
    // the code, the heap and the connections that any upload needs: what is measured is what
    // streaming a large object adds.
    await ours(service.upload(bucket, "warm-up-upload", generated(24 * MiB)))
    await ours(Effect.scoped(Effect.flatMap(service.getObject(bucket, "warm-up-upload"), (object) => Stream.runDrain(object.body))))
    await ours(service.deleteObject(bucket, "warm-up-upload"))
    const size = 256 * MiB
    const baseline = process.memoryUsage.rss()
    const up = await peakRss(() => ours(service.upload(bucket, "big", generated(size))))
    const downBaseline = process.memoryUsage.rss()
    const down = await peakRss(() =>
      ours(Effect.scoped(Effect.flatMap(service.getObject(bucket, "big"), (object) =>
        Stream.runFold(object.body, 0, (n, chunk) => n + chunk.length))))
    )
    if (down.value !== size) throw new Error(`read ${down.value} bytes back, not ${size}`)
    const upGrowth = (up.peak - baseline) / MiB
    const downGrowth = (down.peak - downBaseline) / MiB
    const overall = (Math.max(up.peak, down.peak) - baseline) / MiB
    await ours(service.deleteObject(bucket, "big"))

    const memory = single(
      {
        figure: "S3 256 MiB `upload` + streamed `getObject`, peak RSS growth over the baseline",
        unit: "MiB",
        referenceName: "limit",
        goal: "< 64 MiB",
        oursNote: `up ${upGrowth.toFixed(1)} MiB, down ${downGrowth.toFixed(1)} MiB`
      },
      overall,
      64
    )

    // Operations per second and MB/s, in interleaved pairs (`pairs.ts`).
    const small = Buffer.alloc(4 * 1024, 7)
    const large = Buffer.alloc(16 * MiB, 9)
    await ours(service.putObject(bucket, "large", large))
    const ops = 300
    const largeCount = 4
    await timed(ops, 8, (i) => ours(service.putObject(bucket, `small/${i}`, small)))
    const opsPerSecond = (task: (i: number) => Promise<unknown>) => async () => ops / (await timed(ops, 8, task))
    const mbPerSecond = (task: () => Promise<unknown>) => async () =>
      (largeCount * 16 * MiB) / 1e6 / (await timed(largeCount, 1, task))
    const reference = { referenceName: "raw `S3Client.send`, same moto" }
    const rows: Array<Row> = []
    rows.push(
      await compare(
        { ...reference, figure: `S3 GET 16 MiB streamed, one at a time (${largeCount} per sample)`, unit: "MB/s", goal: ">= 0.97x" },
        mbPerSecond(() =>
          ours(Effect.scoped(Effect.flatMap(service.getObject(bucket, "large"), (object) => Stream.runDrain(object.body))))
        ),
        mbPerSecond(async () => {
          const output = await raw.send(new GetObjectCommand({ Bucket: bucket, Key: "large" }))
          await drainNode(output.Body as Readable)
        })
      )
    )
    rows.push(
      await compare(
        { ...reference, figure: `S3 PUT 4 KiB, 8 concurrent (${ops} per sample)`, unit: "ops/s", goal: ">= 0.97x" },
        opsPerSecond((i) => ours(service.putObject(bucket, `small/${i}`, small))),
        opsPerSecond((i) => raw.send(new PutObjectCommand({ Bucket: bucket, Key: `small/${i}`, Body: small })))
      )
    )
    rows.push(
      await compare(
        { ...reference, figure: `S3 GET 4 KiB, 8 concurrent (${ops} per sample)`, unit: "ops/s", goal: ">= 0.97x" },
        opsPerSecond((i) => ours(service.getObjectBytes(bucket, `small/${i}`))),
        opsPerSecond(async (i) => {
          const output = await raw.send(new GetObjectCommand({ Bucket: bucket, Key: `small/${i}` }))
          await drainNode(output.Body as Readable)
        })
      )
    )
    rows.push(
      await compare(
        { ...reference, figure: `S3 PUT 16 MiB, one at a time (${largeCount} per sample)`, unit: "MB/s", goal: ">= 0.97x" },
        mbPerSecond(() => ours(service.putObject(bucket, "large-put", large))),
        mbPerSecond(() => raw.send(new PutObjectCommand({ Bucket: bucket, Key: "large-put", Body: large })))
      )
    )
    rows.push(memory)
    return rows
  } finally {
    raw.destroy()
    await runtime.dispose()
    moto.child.kill("SIGTERM")
  }
}

// Run on its own: `npx tsx test/bench/s3.ts` (after `npm run build`); `npm run bench` does so.
if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.env.AWS_EC2_METADATA_DISABLED = "true"
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true"
  const rows = await s3()
  // `npm run bench` merges these rows into its table.
  const out = process.env.BENCH_S3_ROWS
  if (out !== undefined && out !== "") fs.writeFileSync(out, JSON.stringify(rows))
  console.log(table(rows))
}
