/**
 * The refresh engine against the AWS SDK for JavaScript's memoized chain, both driving the same
 * `credential_process` (a script that counts its runs):
 * - storm: upstream fetches caused by 10,000 concurrent calls when a refresh is required
 *   (ours: after `invalidate`; the SDK: `forceRefresh`);
 * - short-lived: fetches for 200 calls spread over 2 s, with credentials that live 8 s;
 * - cached: the cost of a call that is served from the cache (µs per call), through
 *   `toAwsSdkProvider` (what every SDK client does per request) and as `yield* credentials.get`
 *   in an Effect program, each against the SDK's memoized provider, in interleaved batches
 *   (`BENCH_HOT_CALLS` calls per batch, 20,000 unless told). These two are rows of
 *   `npm run bench`'s table; the counts above are printed when this file runs on its own.
 */
import * as NodeCommandExecutor from "@effect/platform-node/NodeCommandExecutor"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import { fromNodeProviderChain } from "@aws-sdk/credential-providers"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { AwsCredentials, AwsSession, ProcessCredentials } from "../../src/index.js"
import { compare, type Row, table } from "./pairs.js"

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

const ours = (env: ReturnType<typeof setup>, quiet = false) => {
  const base = ProcessCredentials.layer.pipe(
    Layer.provide(AwsSession.layer({ profile: "bench" })),
    Layer.provide(Layer.merge(NodeFileSystem.layer, NodeCommandExecutor.layer.pipe(Layer.provide(NodeFileSystem.layer)))),
    Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map([["HOME", env.home]]))))
  )
  // Credentials that live 8 s are meant to draw the engine's warning; the count is what is shown.
  const layer = quiet ? Layer.provide(base, Logger.minimumLogLevel(LogLevel.Error)) : base
  return ManagedRuntime.make(layer)
}

const sdk = (env: ReturnType<typeof setup>) => {
  process.env.AWS_CONFIG_FILE = env.configFile
  process.env.AWS_SHARED_CREDENTIALS_FILE = path.join(env.home, "none")
  return fromNodeProviderChain({ profile: "bench" })
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

export interface RefreshCounts {
  /** Upstream fetches for 10,000 concurrent calls that need a refresh. */
  readonly storm: { readonly ours: number; readonly sdk: number }
  /** Upstream fetches for 200 calls over about 2 s, with credentials that live 8 s. */
  readonly shortLived: { readonly ours: number; readonly sdk: number }
}

/**
 * Behaviour, not speed (so listed under `npm run bench`'s table, not in it): how many upstream
 * fetches each engine makes.
 */
export const refreshCounts = async (): Promise<RefreshCounts> => {

  let storm: RefreshCounts["storm"]
  let shortLived: RefreshCounts["shortLived"]
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
    storm = { ours: oursStorm, sdk: sdkStorm }
  }

  // Short-lived credentials, sequential calls.
  {
    const a = setup(8)
    const runtime = ours(a, true)
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
    shortLived = { ours: oursSeq, sdk: sdkSeq }
  }
  return { storm, shortLived }
}

/** Cached calls, ours against the SDK's memoized chain: rows 1 and 2 of the table. */
export const hotPath = async (): Promise<ReadonlyArray<Row>> => {
  const calls = Number(process.env.BENCH_HOT_CALLS ?? 20_000)
  const a = setup(3600)
  const b = setup(3600)
  const runtime = ours(a)
  try {
    const service = await runtime.runPromise(AwsCredentials.AwsCredentials)
    const asSdkProvider = await runtime.runPromise(AwsCredentials.toAwsSdkProvider)
    await runtime.runPromise(service.get)
    const provider = sdk(b)
    await provider()
    /** µs per call over one batch. */
    const perCall = async (batch: () => Promise<unknown>): Promise<number> => {
      const start = process.hrtime.bigint()
      await batch()
      return Number(process.hrtime.bigint() - start) / 1e3 / calls
    }
    const sdkBatch = () =>
      perCall(async () => {
        for (let i = 0; i < calls; i++) await provider()
      })
    const reference = { unit: "µs", referenceName: "SDK memoized `fromNodeProviderChain()`" }
    const viaProvider = await compare(
      { ...reference, figure: "cached call through `toAwsSdkProvider` (what every SDK client does per request)", goal: "<= 1.0x" },
      () =>
        perCall(async () => {
          for (let i = 0; i < calls; i++) await asSdkProvider()
        }),
      sdkBatch
    )
    const inEffect = await compare(
      { ...reference, figure: "cached `yield* credentials.get` in an Effect program", goal: "<= 2.0x" },
      () =>
        perCall(() =>
          runtime.runPromise(Effect.gen(function*() {
            for (let i = 0; i < calls; i++) yield* service.get
          }))
        ),
      sdkBatch
    )
    return [viaProvider, inEffect]
  } finally {
    await runtime.dispose()
    a.remove()
    b.remove()
  }
}

// Run on its own: `npx tsx test/bench/refresh.ts`.
if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.env.AWS_EC2_METADATA_DISABLED = "true"
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true"
  const counts = await refreshCounts()
  console.log("Refresh, same credential_process behind both (upstream fetches counted by the process):")
  console.log(`  storm, 10,000 concurrent calls needing a refresh: ours ${counts.storm.ours}, sdk ${counts.storm.sdk}`)
  console.log(`  200 calls over ~2 s, credentials living 8 s: ours ${counts.shortLived.ours}, sdk ${counts.shortLived.sdk}`)
  console.log(table(await hotPath()))
}
