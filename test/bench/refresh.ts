/**
 * The refresh engine against the AWS SDK for JavaScript's memoized chain, both driving the same
 * `credential_process` (a script that counts its runs):
 * - storm: upstream fetches caused by 10,000 concurrent calls when a refresh is required
 *   (ours: after `invalidate`; the SDK: `forceRefresh`);
 * - short-lived: fetches for 200 calls spread over 2 s, with credentials that live 8 s;
 * - cached: the cost of a call that is served from the cache (ns per call).
 */
import * as NodeCommandExecutor from "@effect/platform-node/NodeCommandExecutor"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import { fromNodeProviderChain } from "@aws-sdk/credential-providers"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { pathToFileURL } from "node:url"
import { AwsCredentials, AwsSession, ProcessCredentials } from "../../src/index.js"

const setup = (lifeSeconds: number) => {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), "eac-bench-refresh-"))
  const counter = path.join(home, "runs")
  const script = path.join(home, "creds.sh")
  fs.writeFileSync(
    script,
    [
      "#!/bin/sh",
      `n=$(cat ${counter} 2>/dev/null || echo 0); echo $((n+1)) > ${counter}`,
      `exp=$(date -u -d "+${lifeSeconds} seconds" +%Y-%m-%dT%H:%M:%SZ)`,
      `printf '{"Version":1,"AccessKeyId":"AKIABENCH%s","SecretAccessKey":"s","SessionToken":"t","Expiration":"%s"}' "$n" "$exp"`
    ].join("\n")
  )
  fs.chmodSync(script, 0o755)
  fs.mkdirSync(path.join(home, ".aws"))
  fs.writeFileSync(path.join(home, ".aws", "config"), `[profile bench]\ncredential_process = ${script}\n`)
  return {
    home,
    configFile: path.join(home, ".aws", "config"),
    runs: () => Number(fs.existsSync(counter) ? fs.readFileSync(counter, "utf8").trim() : 0),
    remove: () => fs.rmSync(home, { recursive: true, force: true })
  }
}

const ours = (env: ReturnType<typeof setup>) => {
  const layer = ProcessCredentials.layer.pipe(
    Layer.provide(AwsSession.layer({ profile: "bench" })),
    Layer.provide(Layer.merge(NodeFileSystem.layer, NodeCommandExecutor.layer.pipe(Layer.provide(NodeFileSystem.layer)))),
    Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map([["HOME", env.home]]))))
  )
  return ManagedRuntime.make(layer)
}

const sdk = (env: ReturnType<typeof setup>) => {
  process.env.AWS_CONFIG_FILE = env.configFile
  process.env.AWS_SHARED_CREDENTIALS_FILE = path.join(env.home, "none")
  return fromNodeProviderChain({ profile: "bench" })
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

export const refresh = async () => {
  console.log("Refresh, same credential_process behind both (upstream fetches counted by the process):")

  // Storm.
  {
    const a = setup(3600)
    const runtime = ours(a)
    const service = await runtime.runPromise(AwsCredentials.AwsCredentials)
    await runtime.runPromise(service.get)
    await sleep(5_100) // past the invalidation cooldown
    const before = a.runs()
    await runtime.runPromise(service.invalidate)
    await Promise.all(Array.from({ length: 10_000 }, () => runtime.runPromise(service.get)))
    const oursStorm = a.runs() - before
    await runtime.dispose()
    a.remove()

    const b = setup(3600)
    const provider = sdk(b)
    await provider()
    const beforeSdk = b.runs()
    await Promise.all(Array.from({ length: 10_000 }, () => provider({ forceRefresh: true })))
    const sdkStorm = b.runs() - beforeSdk
    b.remove()
    console.log(`  storm, 10,000 concurrent calls needing a refresh: ours ${oursStorm} fetch(es), sdk ${sdkStorm}`)
  }

  // Short-lived credentials, sequential calls.
  {
    const a = setup(8)
    const runtime = ours(a)
    const service = await runtime.runPromise(AwsCredentials.AwsCredentials)
    await runtime.runPromise(service.get)
    const before = a.runs()
    for (let i = 0; i < 200; i++) {
      await runtime.runPromise(service.get)
      await sleep(10)
    }
    const oursSeq = a.runs() - before
    await runtime.dispose()
    a.remove()

    const b = setup(8)
    const provider = sdk(b)
    await provider()
    const beforeSdk = b.runs()
    for (let i = 0; i < 200; i++) {
      await provider()
      await sleep(10)
    }
    const sdkSeq = b.runs() - beforeSdk
    b.remove()
    console.log(`  200 calls over ~2 s, credentials living 8 s: ours ${oursSeq} fetch(es), sdk ${sdkSeq}`)
  }

  // Cached call cost.
  return { cached: await cached() }
}

/** The `q` quantile (0 to 1), interpolated between the nearest ranks. */
const quantile = (values: ReadonlyArray<number>, q: number): number => {
  const sorted = [...values].sort((a, b) => a - b)
  const at = (sorted.length - 1) * q
  const low = Math.floor(at)
  return sorted[low]! + (sorted[Math.ceil(at)]! - sorted[low]!) * (at - low)
}
const median = (values: ReadonlyArray<number>): number => quantile(values, 0.5)

/** ns per call of `calls` sequential awaited calls. */
const timeCalls = async (calls: number, call: () => Promise<unknown>): Promise<number> => {
  const t = process.hrtime.bigint()
  for (let i = 0; i < calls; i++) await call()
  return Number(process.hrtime.bigint() - t) / calls
}

export interface CachedFigure {
  /** Median ns per call of ours and of the SDK's memoized provider, over the measured rounds. */
  readonly oursNs: number
  readonly sdkNs: number
  /** Median of the per-round ratios ours / SDK, their quartiles, smallest and largest. */
  readonly ratio: number
  readonly q1: number
  readonly q3: number
  readonly min: number
  readonly max: number
}

/**
 * The cost of a call served from the cache, both ways ours is called (through `toAwsSdkProvider`,
 * as every SDK client does per request, and `yield* credentials.get` in an Effect program), against
 * the SDK's memoized provider. Interleaved (ours-provider, SDK, ours-get, SDK per round) so that
 * both sides share whatever else the machine is doing; one warm-up round, then `rounds` measured.
 */
export const cached = async (options: { readonly rounds?: number; readonly calls?: number } = {}) => {
  const rounds = options.rounds ?? 21
  const calls = options.calls ?? 20_000
  const a = setup(3600)
  const runtime = ours(a)
  const service = await runtime.runPromise(AwsCredentials.AwsCredentials)
  const sdkStyle = await runtime.runPromise(AwsCredentials.toAwsSdkProvider)
  await runtime.runPromise(service.get)
  const inEffect = async () => {
    const t = process.hrtime.bigint()
    await runtime.runPromise(Effect.gen(function*() {
      for (let i = 0; i < calls; i++) yield* service.get
    }))
    return Number(process.hrtime.bigint() - t) / calls
  }
  const b = setup(3600)
  const provider = sdk(b)
  await provider()

  const samples = { provider: [] as Array<number>, get: [] as Array<number>, sdkA: [] as Array<number>, sdkB: [] as Array<number> }
  for (let round = 0; round <= rounds; round++) {
    const p = await timeCalls(calls, () => sdkStyle())
    const s1 = await timeCalls(calls, () => provider())
    const g = await inEffect()
    const s2 = await timeCalls(calls, () => provider())
    if (round === 0) continue // warm-up
    samples.provider.push(p)
    samples.sdkA.push(s1)
    samples.get.push(g)
    samples.sdkB.push(s2)
  }
  await runtime.dispose()
  a.remove()
  b.remove()

  const figure = (oursNs: ReadonlyArray<number>, sdkNs: ReadonlyArray<number>): CachedFigure => {
    const ratios = oursNs.map((value, i) => value / sdkNs[i]!)
    return {
      oursNs: median(oursNs),
      sdkNs: median(sdkNs),
      ratio: median(ratios),
      q1: quantile(ratios, 0.25),
      q3: quantile(ratios, 0.75),
      min: Math.min(...ratios),
      max: Math.max(...ratios)
    }
  }
  const result = { provider: figure(samples.provider, samples.sdkA), get: figure(samples.get, samples.sdkB) }
  const line = (name: string, f: CachedFigure) =>
    `  cached ${name}: ours ${(f.oursNs / 1000).toFixed(3)} µs, sdk memoized ${(f.sdkNs / 1000).toFixed(3)} µs, ` +
    `ratio ${f.ratio.toFixed(2)}x (quartiles ${f.q1.toFixed(2)}-${f.q3.toFixed(2)}, range ${f.min.toFixed(2)}-${f.max.toFixed(2)}; ` +
    `${rounds} interleaved rounds of ${calls} calls)`
  console.log(line("call through toAwsSdkProvider", result.provider))
  console.log(line("yield* credentials.get in Effect", result.get))
  return result
}

// `npx tsx test/bench/refresh.ts [cached]`: this part alone.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.env.AWS_EC2_METADATA_DISABLED = "true"
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true"
  if (process.argv[2] === "cached") await cached()
  else await refresh()
}
