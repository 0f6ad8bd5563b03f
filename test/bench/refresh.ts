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
  {
    const a = setup(3600)
    const runtime = ours(a)
    const service = await runtime.runPromise(AwsCredentials.AwsCredentials)
    const sdkStyle = await runtime.runPromise(AwsCredentials.toAwsSdkProvider)
    await runtime.runPromise(service.get)
    const n = 100_000
    const t0 = process.hrtime.bigint()
    await runtime.runPromise(Effect.gen(function*() {
      for (let i = 0; i < n; i++) yield* service.get
    }))
    const inEffect = Number(process.hrtime.bigint() - t0) / n
    const t1 = process.hrtime.bigint()
    for (let i = 0; i < n; i++) await sdkStyle()
    const asPromise = Number(process.hrtime.bigint() - t1) / n
    await runtime.dispose()
    a.remove()

    const b = setup(3600)
    const provider = sdk(b)
    await provider()
    const t2 = process.hrtime.bigint()
    for (let i = 0; i < n; i++) await provider()
    const sdkCall = Number(process.hrtime.bigint() - t2) / n
    b.remove()
    console.log(`  cached call, ns/call (${n} calls): ours in Effect ${inEffect.toFixed(0)}, ours as an SDK provider ${asPromise.toFixed(0)}, sdk memoized ${sdkCall.toFixed(0)}`)
    console.log(`  ratio cached call (ours in Effect / sdk): ${(inEffect / sdkCall).toFixed(2)}; (ours as SDK provider / sdk): ${(asPromise / sdkCall).toFixed(2)}`)
  }
}
