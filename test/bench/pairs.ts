/**
 * The one place where the bench measures and summarizes. Every figure is a comparison of two
 * sides, ours and a reference (the AWS SDK for JavaScript, botocore, the `aws` command line, the
 * raw `S3Client`), measured in interleaved pairs: one warm-up pair that is thrown away, then
 * `BENCH_PAIRS` pairs (11 unless told) in alternating order (A B, B A, A B, ...), so that a
 * machine that drifts, warms up or gets busy mid-run hits both sides alike. A figure's ratio is
 * the median of the per-pair ratios ours / reference, and its spread the quartiles (and the
 * extremes, in the JSON) of those ratios. Never asserted in tests.
 */
import * as os from "node:os"

/** Pairs per figure: `BENCH_PAIRS`, 11 unless told (fewer are allowed for a quick look). */
export const pairCount = (): number => {
  const pairs = Number(process.env.BENCH_PAIRS ?? 11)
  if (!Number.isInteger(pairs) || pairs < 1) throw new Error(`BENCH_PAIRS must be a positive integer, not ${process.env.BENCH_PAIRS}`)
  return pairs
}

/** One side's measurement: a number in the figure's unit (ms, µs per call, MB/s, ...). */
export type Measure = () => number | Promise<number>

export interface Samples {
  readonly ours: ReadonlyArray<number>
  readonly reference: ReadonlyArray<number>
}

/** A warm-up pair, then `pairs` pairs, the side that goes first alternating from pair to pair. */
export const interleave = async (ours: Measure, reference: Measure, pairs: number = pairCount()): Promise<Samples> => {
  await ours()
  await reference()
  const a: Array<number> = []
  const b: Array<number> = []
  for (let i = 0; i < pairs; i++) {
    if (i % 2 === 0) {
      a.push(await ours())
      b.push(await reference())
    } else {
      b.push(await reference())
      a.push(await ours())
    }
  }
  return { ours: a, reference: b }
}

/** The `q` quantile (0..1) with linear interpolation between the closest ranks. */
export const quantile = (values: ReadonlyArray<number>, q: number): number => {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((x, y) => x - y)
  const position = (sorted.length - 1) * q
  const low = Math.floor(position)
  const high = Math.ceil(position)
  return sorted[low]! + (sorted[high]! - sorted[low]!) * (position - low)
}

export const median = (values: ReadonlyArray<number>): number => quantile(values, 0.5)

export interface Spread {
  readonly p25: number
  readonly p75: number
  readonly min: number
  readonly max: number
}

/** One line of the table, as written to the JSON. */
export interface Row {
  readonly figure: string
  readonly unit: string
  /** Median of our side's samples (or the single measurement), in `unit`. */
  readonly ours: number | null
  /** Median of the reference's samples, in `unit`. */
  readonly reference: number | null
  /** What the reference is: "SDK fromEnv(), bundled", "botocore", ... */
  readonly referenceName: string
  /** Median of the per-pair ratios ours / reference. */
  readonly ratio: number | null
  readonly spread: Spread | null
  readonly goal: string
  readonly pairs: number
  /** Added after our figure in the table: a size, a difference, why something is missing. */
  readonly oursNote?: string
  readonly referenceNote?: string
  readonly samples?: Samples
}

export interface RowOptions {
  readonly figure: string
  readonly unit: string
  readonly referenceName: string
  readonly goal: string
  readonly oursNote?: string
  readonly referenceNote?: string
}

/** The row of a figure measured in pairs. */
export const row = (options: RowOptions, samples: Samples): Row => {
  const ratios = samples.ours.map((value, i) => value / samples.reference[i]!)
  return {
    ...options,
    ours: median(samples.ours),
    reference: median(samples.reference),
    ratio: median(ratios),
    spread: { p25: quantile(ratios, 0.25), p75: quantile(ratios, 0.75), min: Math.min(...ratios), max: Math.max(...ratios) },
    pairs: samples.ours.length,
    samples
  }
}

/** Interleaves the two sides and summarizes them as one row. */
export const compare = async (options: RowOptions, ours: Measure, reference: Measure): Promise<Row> =>
  row(options, await interleave(ours, reference))

/** A row without pairs: a single figure against a limit, or a figure that could not be taken. */
export const single = (options: RowOptions, ours: number | null, reference: number | null = null): Row => ({
  ...options,
  ours,
  reference,
  ratio: null,
  spread: null,
  pairs: 0
})

const number = (value: number): string => {
  const size = Math.abs(value)
  if (size >= 100) return value.toFixed(0)
  if (size >= 10) return value.toFixed(1)
  if (size >= 1) return value.toFixed(2)
  return value.toFixed(3)
}

const cell = (value: number | null, unit: string, note: string | undefined): string =>
  [value === null ? "" : `${number(value)} ${unit}`, note === undefined ? "" : `(${note})`].filter((s) => s !== "").join(" ") ||
  "—"

const escape = (text: string): string => text.replace(/\|/g, "\\|")

/** The table as Markdown, in the order given. */
export const table = (rows: ReadonlyArray<Row>): string =>
  [
    "| figure | ours | reference | ratio (median of per-pair) | spread (p25–p75) | goal |",
    "|---|---|---|---|---|---|",
    ...rows.map((r) =>
      `| ${
        [
          r.figure,
          cell(r.ours, r.unit, r.oursNote),
          `${r.referenceName}: ${cell(r.reference, r.unit, r.referenceNote)}`,
          r.ratio === null ? "—" : `${r.ratio.toFixed(2)}x`,
          r.spread === null ? "—" : `${r.spread.p25.toFixed(2)}–${r.spread.p75.toFixed(2)}`,
          r.goal
        ].map(escape).join(" | ")
      } |`
    )
  ].join("\n")

export interface Machine {
  readonly os: string
  readonly cpu: string
  readonly cores: number
  readonly memoryGiB: number
  readonly node: string
  /** The 1-minute load average when the run started: the machine may not have been idle. */
  readonly loadAverage: number
}

export const machine = (): Machine => ({
  os: `${os.type()} ${os.release()} ${os.arch()}`,
  cpu: os.cpus()[0]?.model.trim() ?? "unknown",
  cores: os.cpus().length,
  memoryGiB: Math.round(os.totalmem() / 2 ** 30),
  node: process.version,
  loadAverage: Number(os.loadavg()[0]!.toFixed(2))
})

/** One line saying where and how the table was taken. */
export const machineLine = (m: Machine, timestamp: string, pairs: number): string =>
  `${timestamp}: ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, ${m.os}, Node ${m.node}, load average ${m.loadAverage} at start; ` +
  `${pairs} interleaved pairs per figure after one warm-up pair.`
