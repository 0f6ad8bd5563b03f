/**
 * botocore as an oracle: for each setup, `explain --json` (run as a user would, through tsx)
 * must resolve the same source label and access key as botocore 1.43 in the same environment,
 * and fail where botocore fails, except for the differences the README lists, which are
 * asserted here as differences.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { execFile, execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..")
const oracle = path.join(repo, "test", "services", "botocore_oracle.py")
const tsx = path.join(repo, "node_modules", ".bin", "tsx")

const botocoreAvailable = (() => {
  try {
    execFileSync("python3", ["-c", "import botocore"], { stdio: "ignore" })
    return true
  } catch {
    return false
  }
})()
if (!botocoreAvailable && process.env.CI === "true") {
  throw new Error("CI=true but python3 cannot import botocore (the oracle for these tests)")
}

interface Oracle {
  readonly ok: boolean
  readonly method?: string
  readonly accessKey?: string
  readonly none?: boolean
  readonly error?: string
}

interface Ours {
  readonly status: number
  readonly report: {
    readonly ok: boolean
    readonly credentials?: { readonly source: string; readonly accessKeyId: string }
    readonly error?: { readonly _tag: string; readonly reason: string }
  }
  readonly stdout: string
  readonly stderr: string
}

let root: string
beforeAll(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), "eac-parity-"))
})
afterAll(() => {
  fs.rmSync(root, { recursive: true, force: true })
})

let counter = 0
const setup = (files: Record<string, string>): string => {
  const home = path.join(root, `home${counter++}`)
  for (const [relative, content] of Object.entries(files)) {
    const file = path.join(home, relative)
    fs.mkdirSync(path.dirname(file), { recursive: true })
    if (content === "<dir>") fs.mkdirSync(file, { recursive: true })
    else fs.writeFileSync(file, content)
  }
  fs.mkdirSync(home, { recursive: true })
  return home
}

const baseEnv = (home: string, env: Record<string, string>): NodeJS.ProcessEnv => ({
  PATH: process.env.PATH,
  HOME: home,
  AWS_EC2_METADATA_DISABLED: "true",
  // boto-config falls back to /etc/boto.cfg and ~/.boto; point it at the temporary home.
  BOTO_CONFIG: path.join(home, ".boto"),
  ...env
})

const run = (file: string, args: ReadonlyArray<string>, env: NodeJS.ProcessEnv) =>
  new Promise<{ status: number; stdout: string; stderr: string }>((resolve) => {
    execFile(file, args, { env, encoding: "utf8", timeout: 60_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === "number" ? error.code : -1
      resolve({ status: code, stdout, stderr })
    })
  })

const runOracle = async (home: string, env: Record<string, string>, profile?: string): Promise<Oracle> => {
  const out = await run("python3", [oracle, profile ?? ""], baseEnv(home, env))
  return JSON.parse(out.stdout.trim().split("\n").pop()!) as Oracle
}

const runOurs = async (home: string, env: Record<string, string>, profile?: string): Promise<Ours> => {
  const args = [path.join(repo, "src", "bin.ts"), "explain", "--json"]
  if (profile !== undefined) args.push("--profile", profile)
  const result = await run(tsx, args, baseEnv(home, env))
  return { ...result, report: JSON.parse(result.stdout) as Ours["report"] }
}

const secret = "paritySecretNeverPrinted0000000000000001"
const keys = (id: string) => `aws_access_key_id = ${id}\naws_secret_access_key = ${secret}\n`
const processScript = (id: string) =>
  `#!/bin/sh\necho '{"Version": 1, "AccessKeyId": "${id}", "SecretAccessKey": "${secret}"}'\n`

interface Scenario {
  readonly name: string
  readonly files: Record<string, string>
  readonly env?: (home: string) => Record<string, string>
  readonly profile?: string
  /** A difference the README lists: what each side does. */
  readonly differs?: { readonly botocore: Partial<Oracle>; readonly ours: { readonly status: number; readonly reason?: string } }
}

const scenarios: ReadonlyArray<Scenario> = [
  { name: "env", files: {}, env: () => ({ AWS_ACCESS_KEY_ID: "AKIAENV0000000000001", AWS_SECRET_ACCESS_KEY: secret }) },
  {
    name: "env with a session token and AWS_PROFILE naming a file profile (env still wins)",
    files: { ".aws/credentials": `[dev]\n${keys("AKIAFILE000000000001")}` },
    env: () => ({
      AWS_ACCESS_KEY_ID: "AKIAENV0000000000002",
      AWS_SECRET_ACCESS_KEY: secret,
      AWS_SESSION_TOKEN: "token",
      AWS_PROFILE: "dev"
    })
  },
  {
    name: "a profile named explicitly drops env",
    files: { ".aws/credentials": `[dev]\n${keys("AKIAFILE000000000002")}` },
    env: () => ({ AWS_ACCESS_KEY_ID: "AKIAENV0000000000003", AWS_SECRET_ACCESS_KEY: secret }),
    profile: "dev"
  },
  {
    name: "env: a secret without an access key is skipped",
    files: { ".aws/credentials": `[default]\n${keys("AKIAFILE000000000003")}` },
    env: () => ({ AWS_SECRET_ACCESS_KEY: secret })
  },
  { name: "env: partial keys fail", files: {}, env: () => ({ AWS_ACCESS_KEY_ID: "AKIAENV0000000000004" }) },
  { name: "shared-credentials-file", files: { ".aws/credentials": `[default]\n${keys("AKIAFILE000000000004")}` } },
  {
    name: "shared-credentials-file via AWS_SHARED_CREDENTIALS_FILE and AWS_PROFILE",
    files: { "elsewhere/creds": `[ops]\n${keys("AKIAFILE000000000005")}` },
    env: (home) => ({ AWS_SHARED_CREDENTIALS_FILE: path.join(home, "elsewhere/creds"), AWS_PROFILE: "ops" })
  },
  {
    name: "shared-credentials-file: partial keys fail",
    files: { ".aws/credentials": "[default]\naws_access_key_id = AKIAFILE000000000006\n" }
  },
  { name: "config-file", files: { ".aws/config": `[default]\n${keys("AKIACONF000000000001")}` } },
  {
    name: "config-file of a named profile",
    files: { ".aws/config": `[profile dev]\n${keys("AKIACONF000000000002")}` },
    profile: "dev"
  },
  {
    name: "shared-credentials-file beats config-file",
    files: {
      ".aws/config": `[default]\n${keys("AKIACONF000000000003")}`,
      ".aws/credentials": `[default]\n${keys("AKIAFILE000000000007")}`
    }
  },
  {
    name: "custom-process",
    files: { "bin/creds.sh": processScript("AKIAPROC000000000001") },
    env: (home) => {
      fs.chmodSync(path.join(home, "bin/creds.sh"), 0o755)
      fs.writeFileSync(path.join(home, ".aws-config"), `[default]\ncredential_process = ${home}/bin/creds.sh\n`)
      return { AWS_CONFIG_FILE: path.join(home, ".aws-config") }
    }
  },
  {
    name: "custom-process beats config-file keys",
    files: { "bin/creds.sh": processScript("AKIAPROC000000000002") },
    env: (home) => {
      fs.chmodSync(path.join(home, "bin/creds.sh"), 0o755)
      fs.writeFileSync(
        path.join(home, ".aws-config"),
        `[default]\ncredential_process = ${home}/bin/creds.sh\n${keys("AKIACONF000000000004")}`
      )
      return { AWS_CONFIG_FILE: path.join(home, ".aws-config") }
    }
  },
  {
    name: "custom-process exiting non-zero fails",
    files: { "bin/creds.sh": "#!/bin/sh\necho nope >&2\nexit 3\n" },
    env: (home) => {
      fs.chmodSync(path.join(home, "bin/creds.sh"), 0o755)
      fs.writeFileSync(path.join(home, ".aws-config"), `[default]\ncredential_process = ${home}/bin/creds.sh\n`)
      return { AWS_CONFIG_FILE: path.join(home, ".aws-config") }
    }
  },
  {
    name: "ec2-credentials-file",
    files: { "ec2.creds": `AWSAccessKeyId=AKIAEC2F000000000001\nAWSSecretKey=${secret}\n` },
    env: (home) => ({ AWS_CREDENTIAL_FILE: path.join(home, "ec2.creds") })
  },
  {
    name: "ec2-credentials-file naming a missing file fails",
    files: {},
    env: (home) => ({ AWS_CREDENTIAL_FILE: path.join(home, "missing.creds") })
  },
  {
    name: "boto-config",
    files: { ".boto": `[Credentials]\naws_access_key_id = AKIABOTO000000000001\naws_secret_access_key = ${secret}\n` }
  },
  {
    name: "ec2-credentials-file beats boto-config",
    files: {
      ".boto": `[Credentials]\naws_access_key_id = AKIABOTO000000000002\naws_secret_access_key = ${secret}\n`,
      "ec2.creds": `AWSAccessKeyId=AKIAEC2F000000000002\nAWSSecretKey=${secret}\n`
    },
    env: (home) => ({ AWS_CREDENTIAL_FILE: path.join(home, "ec2.creds") })
  },
  {
    name: "boto-config: partial keys fail",
    files: { ".boto": "[Credentials]\naws_access_key_id = AKIABOTO000000000003\n" }
  },
  { name: "nothing configured", files: {} },
  {
    name: "AWS_PROFILE naming a missing profile fails",
    files: { ".aws/credentials": `[default]\n${keys("AKIAFILE000000000008")}` },
    env: () => ({ AWS_PROFILE: "nope", AWS_ACCESS_KEY_ID: "AKIAENV0000000000005", AWS_SECRET_ACCESS_KEY: secret })
  },
  {
    name: "a malformed config file fails even with env credentials",
    files: { ".aws/config": "[default]\nthis line has no equals sign\n" },
    env: () => ({ AWS_ACCESS_KEY_ID: "AKIAENV0000000000006", AWS_SECRET_ACCESS_KEY: secret })
  },
  {
    name: "CRLF line endings",
    files: { ".aws/credentials": `[default]\r\n${keys("AKIAFILE000000000009").replace(/\n/g, "\r\n")}` }
  },
  // Differences the README lists.
  {
    name: "difference: AWS_PROFILE is preferred to AWS_DEFAULT_PROFILE",
    files: { ".aws/credentials": `[a]\n${keys("AKIAFILEA00000000001")}[b]\n${keys("AKIAFILEB00000000001")}` },
    env: () => ({ AWS_PROFILE: "a", AWS_DEFAULT_PROFILE: "b" }),
    differs: { botocore: { ok: true, accessKey: "AKIAFILEB00000000001" }, ours: { status: 0 } }
  },
  {
    name: "difference: a directory where the credentials file should be is an error",
    files: { ".aws/credentials": "<dir>" },
    env: () => ({ AWS_ACCESS_KEY_ID: "AKIAENV0000000000007", AWS_SECRET_ACCESS_KEY: secret }),
    differs: { botocore: { ok: true, method: "env" }, ours: { status: 2, reason: "FileUnreadable" } }
  },
  {
    name: "difference: a UTF-8 byte order mark is accepted",
    files: { ".aws/credentials": `\ufeff[default]\n${keys("AKIAFILE000000000010")}` },
    differs: { botocore: { ok: false, error: "ConfigParseError" }, ours: { status: 0 } }
  }
]

describe.skipIf(!botocoreAvailable)("explain --json agrees with botocore", () => {
  const results: Array<string> = []
  afterAll(() => {
    console.log(`botocore parity: ${results.length} scenarios\n  ${results.join("\n  ")}`)
  })

  for (const scenario of scenarios) {
    it(scenario.name, async () => {
      const home = setup(scenario.files)
      const env = scenario.env?.(home) ?? {}
      const [theirs, ours] = await Promise.all([
        runOracle(home, env, scenario.profile),
        runOurs(home, env, scenario.profile)
      ])
      expect(ours.stdout + ours.stderr).not.toContain(secret)

      if (scenario.differs !== undefined) {
        expect(theirs).toMatchObject(scenario.differs.botocore)
        expect(ours.status).toBe(scenario.differs.ours.status)
        if (scenario.differs.ours.reason !== undefined) {
          expect(ours.report.error?.reason).toBe(scenario.differs.ours.reason)
        }
        results.push(`${scenario.name}: botocore ${JSON.stringify(theirs)}, ours exit ${ours.status}`)
        return
      }
      if (theirs.ok) {
        expect(ours.status, JSON.stringify(ours.report)).toBe(0)
        expect(ours.report.credentials?.source).toBe(theirs.method)
        expect(ours.report.credentials?.accessKeyId).toBe(theirs.accessKey)
      } else if (theirs.none === true) {
        expect(ours.status, JSON.stringify(ours.report)).toBe(1)
        expect(ours.report.error?._tag).toBe("NoCredentialsFound")
      } else {
        expect(ours.status, `botocore raised ${theirs.error}; ours: ${JSON.stringify(ours.report)}`).toBe(2)
        expect(ours.report.error?._tag).toBe("CredentialsError")
      }
      results.push(
        `${scenario.name}: ${theirs.ok ? `${theirs.method} ${theirs.accessKey}` : theirs.error ?? "none"} = ours`
      )
    })
  }
})
