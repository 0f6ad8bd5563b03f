// Checks an application that installed the packed tarball (see pack.sh): one copy of the
// packages an app must share, no command-line stack, a typecheck with declarations that name
// every public value, a run, `require`, and the installed command line.
//
//   node consumer.mjs APP_DIR '{"effect":"3.22.3","@effect/platform":"0.97.1",...}'
import { execFileSync, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"

const [appDir, pinsJson] = process.argv.slice(2)
const pins = JSON.parse(pinsJson)
const pkgDir = path.join(appDir, "node_modules", "effect-aws-credentials")
const fail = (message) => {
  console.error(`consumer check failed: ${message}`)
  process.exit(1)
}
const step = (message) => console.log(`  ok: ${message}`)

// --- one copy of each shared package, at the app's version; no command-line stack ----------
const found = new Map()
const walk = (dir) => {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue
    const full = path.join(dir, entry.name)
    if (entry.name.startsWith("@")) {
      walk(full)
      continue
    }
    const manifest = path.join(full, "package.json")
    if (fs.existsSync(manifest)) {
      const { name, version } = JSON.parse(fs.readFileSync(manifest, "utf8"))
      if (!found.has(name)) found.set(name, [])
      found.get(name).push({ version, at: path.relative(appDir, full) })
    }
    const nested = path.join(full, "node_modules")
    if (fs.existsSync(nested)) walk(nested)
  }
}
walk(path.join(appDir, "node_modules"))
for (const [name, version] of Object.entries(pins)) {
  const copies = found.get(name) ?? []
  if (copies.length !== 1) fail(`${copies.length} copies of ${name}: ${JSON.stringify(copies)}`)
  if (copies[0].version !== version) fail(`${name} is ${copies[0].version}, the app pinned ${version}`)
}
step(`one copy each of ${Object.entries(pins).map(([n, v]) => `${n}@${v}`).join(", ")}`)
for (const name of ["@effect/cli", "@effect/printer", "@effect/printer-ansi", "@effect/typeclass", "esbuild", "tsx"]) {
  if (found.has(name)) fail(`${name} was installed with the package: ${JSON.stringify(found.get(name))}`)
}
step("no @effect/cli, printer, typeclass, esbuild or tsx in the app's node_modules")

// --- a consumer that re-exports every public value, compiled with declarations --------------
// The namespaces of the root and the module each maps to, from the package's own index.
const index = fs.readFileSync(path.join(pkgDir, "dist", "index.d.ts"), "utf8")
const namespaces = [...index.matchAll(/export \* as (\w+) from "\.\/(.+)\.js"/g)].map((m) => ({
  name: m[1],
  file: path.join(pkgDir, "dist", `${m[2]}.d.ts`)
}))
if (namespaces.length < 20) fail(`only ${namespaces.length} modules found in dist/index.d.ts`)
const lines = [`import { ${namespaces.map((n) => n.name).join(", ")} } from "effect-aws-credentials"`]
let values = 0
for (const { name, file } of namespaces) {
  const text = fs.readFileSync(file, "utf8")
  for (const m of text.matchAll(/^export declare (?:const|function|class|abstract class) (\w+)/gm)) {
    lines.push(`export const ${name}_${m[1]} = ${name}.${m[1]}`)
    values++
  }
}
fs.writeFileSync(path.join(appDir, "exports.ts"), lines.join("\n") + "\n")
fs.writeFileSync(
  path.join(appDir, "main.ts"),
  `import { Effect } from "effect"
import { AwsCredentials, CredentialChain } from "effect-aws-credentials"

export const program = Effect.gen(function*() {
  const credentials = yield* AwsCredentials.AwsCredentials
  const current = yield* credentials.get
  console.log(JSON.stringify({ source: current.source, accessKeyId: current.accessKeyId, printed: String(current) }))
})

Effect.runPromise(program.pipe(Effect.provide(CredentialChain.layerNode())))
`
)
fs.writeFileSync(
  path.join(appDir, "tsconfig.json"),
  JSON.stringify({
    compilerOptions: {
      target: "ES2022",
      module: "NodeNext",
      moduleResolution: "NodeNext",
      strict: true,
      exactOptionalPropertyTypes: true,
      types: ["node"],
      outDir: "out",
      declaration: true,
      skipLibCheck: false
    },
    files: ["main.ts", "exports.ts"]
  })
)
const tsc = spawnSync(path.join(appDir, "node_modules", ".bin", "tsc"), ["-p", "tsconfig.json"], {
  cwd: appDir,
  encoding: "utf8"
})
if (tsc.status !== 0) fail(`tsc:\n${tsc.stdout}${tsc.stderr}`)
step(`typecheck with declaration: true, skipLibCheck: false, ${values} public values re-exported`)

// TypeScript writes a type it can only name through a blocked path (`effect-aws-credentials/
// internal/...`) into the emitted declarations without complaint; whoever compiles against them
// then fails with TS2307. So the emitted declarations are compiled too, as a downstream would.
fs.writeFileSync(
  path.join(appDir, "tsconfig.downstream.json"),
  JSON.stringify({
    compilerOptions: {
      target: "ES2022",
      module: "NodeNext",
      moduleResolution: "NodeNext",
      strict: true,
      types: ["node"],
      noEmit: true,
      skipLibCheck: false
    },
    files: ["out/main.d.ts", "out/exports.d.ts"]
  })
)
const downstream = spawnSync(path.join(appDir, "node_modules", ".bin", "tsc"), ["-p", "tsconfig.downstream.json"], {
  cwd: appDir,
  encoding: "utf8"
})
if (downstream.status !== 0) fail(`the app's emitted declarations do not compile:\n${downstream.stdout}${downstream.stderr}`)
step("the app's emitted declarations compile downstream (no type named through a blocked path)")

// And the package's own declarations: no public one imports an internal module.
const publicDeclarations = []
const collect = (dir) => {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name)
    if (entry.isDirectory() && entry.name !== "internal") collect(full)
    else if (entry.name.endsWith(".d.ts")) publicDeclarations.push(full)
  }
}
collect(path.join(pkgDir, "dist"))
for (const file of publicDeclarations) {
  const text = fs.readFileSync(file, "utf8")
  const leak = /(?:from\s+|import\()["'][^"']*internal\/[^"']*["']/.exec(text)
  if (leak !== null) fail(`${path.relative(pkgDir, file)} names an internal module: ${leak[0]}`)
}
step(`${publicDeclarations.length} public .d.ts files name no internal module`)

// --- running it -------------------------------------------------------------------------------
const home = fs.mkdtempSync(path.join(appDir, "home-"))
const secret = "smokeSecretKeyThatMustNeverBePrinted0042"
const env = {
  PATH: process.env.PATH,
  HOME: home,
  AWS_EC2_METADATA_DISABLED: "true",
  AWS_ACCESS_KEY_ID: "AKIASMOKETEST0000001",
  AWS_SECRET_ACCESS_KEY: secret
}
const run = (args, extraEnv = {}, input = undefined) =>
  spawnSync(args[0], args.slice(1), { cwd: appDir, env: { ...env, ...extraEnv }, encoding: "utf8", input, timeout: 60_000 })
const noSecret = (what, result) => {
  if ((result.stdout + result.stderr).includes(secret)) fail(`${what} printed the secret`)
}

const main = run([process.execPath, "out/main.js"])
if (main.status !== 0) fail(`the program failed: ${main.stderr}`)
const printed = JSON.parse(main.stdout)
if (printed.source !== "env" || printed.accessKeyId !== "AKIASMOKETEST0000001") fail(`program printed ${main.stdout}`)
noSecret("the program", main)
step("the program resolves env credentials without printing the secret")

// The subpath for programs without Effect: `effect-aws-credentials/sdk`'s fromChain() with env credentials.
const sdk = run([
  process.execPath,
  "--input-type=module",
  "-e",
  "import { fromChain } from 'effect-aws-credentials/sdk'; const p = fromChain(); const c = await p(); await p.dispose(); " +
    "console.log(JSON.stringify({ accessKeyId: c.accessKeyId, secret: c.secretAccessKey.length }))"
])
if (sdk.status !== 0) fail(`effect-aws-credentials/sdk fromChain(): ${sdk.stderr}`)
const fromChainPrinted = JSON.parse(sdk.stdout)
if (fromChainPrinted.accessKeyId !== "AKIASMOKETEST0000001" || fromChainPrinted.secret !== secret.length) {
  fail(`effect-aws-credentials/sdk fromChain() gave ${sdk.stdout}`)
}
noSecret("effect-aws-credentials/sdk", sdk)
step("effect-aws-credentials/sdk: fromChain() resolves env credentials and disposes")

const required = run([
  process.execPath,
  "-e",
  "const m = require('effect-aws-credentials'); if (typeof m.EnvCredentials.layer !== 'object') process.exit(3); console.log(Object.keys(m).length)"
])
if (required.status !== 0) fail(`require("effect-aws-credentials"): ${required.stderr}`)
if (/Warning/.test(required.stderr)) fail(`require printed a warning: ${required.stderr}`)
step(`require("effect-aws-credentials") gives ${required.stdout.trim()} modules, no warning`)

const bin = path.join(appDir, "node_modules", ".bin", "effect-aws-credentials")
const explain = run([bin, "explain", "--json"])
if (explain.status !== 0) fail(`explain --json exit ${explain.status}: ${explain.stderr}`)
const report = JSON.parse(explain.stdout)
if (report.ok !== true || report.credentials.source !== "env") fail(`explain printed ${explain.stdout}`)
if (report.credentials.secretAccessKey !== "****************0042") fail("explain did not mask the secret")
noSecret("explain", explain)
step("the installed bin resolves env credentials, secret masked")

const none = run([bin, "explain", "--json"], { AWS_ACCESS_KEY_ID: "", AWS_SECRET_ACCESS_KEY: "" })
if (none.status !== 1) fail(`explain without credentials: exit ${none.status}`)
step("the installed bin exits 1 without credentials")

// A web identity role against a closed loopback port: the bin loads the STS client (which
// warns about Node 20 unless switched off) and fails as configured-but-broken.
const tokenFile = path.join(home, "token")
fs.writeFileSync(tokenFile, "header.payload.signature")
const role = run([bin, "explain"], {
  AWS_ACCESS_KEY_ID: "",
  AWS_SECRET_ACCESS_KEY: "",
  AWS_WEB_IDENTITY_TOKEN_FILE: tokenFile,
  AWS_ROLE_ARN: "arn:aws:iam::123456789012:role/smoke",
  AWS_REGION: "us-east-1",
  AWS_ENDPOINT_URL_STS: "http://127.0.0.1:9"
})
if (role.status !== 2) fail(`explain with an unreachable STS: exit ${role.status}: ${role.stdout}${role.stderr}`)
if (/NodeVersionSupportWarning/.test(role.stdout + role.stderr)) fail("the bin printed the SDK's Node version warning")
step("the installed bin loads the STS client without the SDK's Node version warning")

const size = execFileSync("du", ["-sb", path.join(appDir, "node_modules")], { encoding: "utf8" }).split("\t")[0]
console.log(`  node_modules: ${(Number(size) / 1e6).toFixed(1)} MB`)
