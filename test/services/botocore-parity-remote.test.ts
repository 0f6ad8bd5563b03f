/**
 * botocore as an oracle for the remote sources: for each setup, `explain --json` (run as a user
 * would, through tsx) and botocore 1.43, each in its own process with the same minimal
 * environment, must resolve the same source label and the same access key, and fail where
 * botocore fails, except for the differences the README lists, which are asserted here as
 * differences.
 *
 * Where the credentials come from:
 * - instance metadata and container endpoints: the loopback fake (test/support/metadataServer.ts),
 *   serving one fixed access key per endpoint so that both clients must see the same key;
 * - IAM Identity Center: the loopback SSO portal (test/support/ssoServer.ts), one fixed key per role;
 * - STS: moto. moto issues a new key for every AssumeRole, so the two keys differ by design; both
 *   are looked up in moto's state (`/moto-api/data.json`) and must be sessions of the same role.
 *   Assumed roles run against a moto with IAM auth on (signatures verified); web identity and the
 *   roles whose root is instance metadata or a container (fake keys) against an open moto.
 *
 * `aws login` is compared as a difference: botocore needs `botocore[crt]` for it, which is not installed here.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import { execFile, execFileSync } from "node:child_process"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { type MetadataServer, metadataServer, refusedUrl } from "../support/metadataServer.js"
import * as SsoServer from "../support/ssoServer.js"
import { accountId, type Keys, motoAvailable, motoMissingReason, useMoto } from "./moto.js"

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
const available = botocoreAvailable && motoAvailable
const skipReason = !botocoreAvailable ? "python3 cannot import botocore" : motoMissingReason

const authMoto = useMoto()
const openMoto = useMoto()

/** The fixed keys the loopback fakes hand out. */
const imdsKey = "ASIAPARITYIMDS000001"
const containerKey = "ASIAPARITYECS0000001"
const ssoKeyOf = (account: string, role: string) =>
  `ASIAPARITYSSO${crypto.createHash("sha1").update(`${account}/${role}`).digest("hex").slice(0, 7).toUpperCase()}`
const containerToken = "parity-container-authorization-token"
const ssoToken = "parity-sso-access-token"
const ssoAccount = "111122223333"

/** Never printed by either side. */
const secret = "parityRemoteSecretNeverPrinted0000000001"

let root: string
let scope: Scope.CloseableScope
let metadata: MetadataServer
let sso: SsoServer.SsoServer
let user: Keys
let roleA: string
let roleB: string
const openRole = `arn:aws:iam::${accountId}:role/OpenRole`

beforeAll(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), "eac-parity-remote-"))
  scope = await Effect.runPromise(Scope.make())
  const [startedMetadata, startedSso] = await Effect.runPromise(
    Scope.extend(
      Effect.all([
        metadataServer({
          containerToken,
          accessKeyId: (_, endpoint) => endpoint === "imds" ? imdsKey : containerKey
        }),
        SsoServer.make({ accessKeyId: ssoKeyOf })
      ]),
      scope
    )
  )
  metadata = startedMetadata
  sso = startedSso
  sso.acceptToken(ssoToken)
  if (!available) return
  const moto = authMoto.current()
  user = await moto.createUser("parity")
  roleB = await moto.createRole("ParityRoleB")
  roleA = await moto.createRole("ParityRoleA")
  await moto.enableAuth()
}, 90_000)

afterEach(() => {
  metadata.clearFaults()
  metadata.configure({ v1Allowed: true, role: "test-role", containerToken })
})

afterAll(async () => {
  await Effect.runPromise(Scope.close(scope, Exit.void))
  fs.rmSync(root, { recursive: true, force: true })
})

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
    readonly credentials?: { readonly source: string; readonly accessKeyId: string; readonly provenance: string }
    readonly error?: { readonly _tag: string; readonly reason: string; readonly message: string }
    readonly attempts: ReadonlyArray<{ readonly source: string; readonly outcome: string }>
  }
  readonly stdout: string
  readonly stderr: string
}

const run = (file: string, args: ReadonlyArray<string>, env: NodeJS.ProcessEnv) =>
  new Promise<{ status: number; stdout: string; stderr: string }>((resolve) => {
    execFile(file, args, { env, encoding: "utf8", timeout: 60_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === "number" ? error.code : -1
      resolve({ status: code, stdout, stderr })
    })
  })

/**
 * The environment both sides get: nothing from this process but PATH. Instance metadata is off
 * unless the scenario turns it on against the fake, so that neither side ever looks for the real
 * one; boto's config points into the temporary home.
 */
const minimalEnv = (home: string, env: Record<string, string>): NodeJS.ProcessEnv => ({
  PATH: process.env.PATH,
  HOME: home,
  BOTO_CONFIG: path.join(home, ".boto"),
  AWS_EC2_METADATA_DISABLED: "true",
  ...env
})

const runOracle = async (env: NodeJS.ProcessEnv, profile?: string): Promise<Oracle> => {
  const out = await run("python3", [oracle, profile ?? ""], env)
  const line = out.stdout.trim().split("\n").pop() ?? ""
  try {
    return JSON.parse(line) as Oracle
  } catch {
    throw new Error(`the oracle printed no JSON (exit ${out.status}): ${out.stderr.slice(-2000)}`)
  }
}

const runOurs = async (env: NodeJS.ProcessEnv, profile?: string): Promise<Ours> => {
  const args = [path.join(repo, "src", "bin.ts"), "explain", "--json"]
  if (profile !== undefined) args.push("--profile", profile)
  const result = await run(tsx, args, env)
  try {
    return { ...result, report: JSON.parse(result.stdout) as Ours["report"] }
  } catch {
    throw new Error(`explain printed no JSON (exit ${result.status}): ${result.stderr.slice(-2000)}`)
  }
}

/** The role each access key moto issued belongs to (moto's own record of its AssumeRole calls). */
const motoSessions = async (url: string): Promise<ReadonlyMap<string, { roleArn: string; sessionName: string }>> => {
  const response = await fetch(`${url}/moto-api/data.json`)
  const data = await response.json() as {
    sts?: { AssumedRole?: Array<{ access_key_id: string; role_arn: string; session_name: string }> }
  }
  return new Map(
    (data.sts?.AssumedRole ?? []).map((r) => [r.access_key_id, { roleArn: r.role_arn, sessionName: r.session_name }])
  )
}

interface Context {
  readonly home: string
  readonly metadata: MetadataServer
  readonly sso: SsoServer.SsoServer
  readonly authMoto: string
  readonly openMoto: string
}

/** How the two access keys must relate. */
type Keyed =
  /** The same key (a fake that serves a fixed key). */
  | { readonly _tag: "Same" }
  /** Each side's own AssumeRole session of this role on this moto. */
  | { readonly _tag: "MotoRole"; readonly moto: "auth" | "open"; readonly roleArn: () => string }

interface Scenario {
  readonly name: string
  /** Writes the files; returns the scenario's environment variables. */
  readonly setup: (context: Context) => Record<string, string> | Promise<Record<string, string>>
  readonly profile?: string
  readonly keys?: Keyed
  /** A difference the README lists: what each side does. */
  readonly differs?: {
    readonly botocore: Partial<Oracle>
    readonly ours: { readonly status: number; readonly reason?: string }
    readonly readme: string
  }
  /** More checks once both sides ran. */
  readonly check?: (context: Context, ours: Ours, theirs: Oracle) => void | Promise<void>
}

const write = (home: string, relative: string, content: string): string => {
  const file = path.join(home, relative)
  fs.mkdirSync(path.dirname(file), { recursive: true })
  fs.writeFileSync(file, content)
  return file
}

const iso = (ms: number) => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(".000Z", "Z")
const sha1 = (text: string) => crypto.createHash("sha1").update(text).digest("hex")

/** An SSO token cache entry as `aws sso login` writes it. */
const writeSsoToken = (home: string, id: string, startUrl: string, expiresAt: number) =>
  write(
    home,
    path.join(".aws", "sso", "cache", `${sha1(id)}.json`),
    JSON.stringify({ startUrl, region: "us-east-1", accessToken: ssoToken, expiresAt: iso(expiresAt) })
  )

const imdsEnv = (context: Context, vars: Record<string, string> = {}) => ({
  AWS_EC2_METADATA_DISABLED: "false",
  AWS_EC2_METADATA_SERVICE_ENDPOINT: context.metadata.url,
  ...vars
})

/** STS on moto as users point at it; botocore reads only AWS_DEFAULT_REGION. */
const stsEnv = (url: string, vars: Record<string, string> = {}) => ({
  AWS_DEFAULT_REGION: "us-east-1",
  AWS_ENDPOINT_URL_STS: url,
  ...vars
})

const userKeys = () => `aws_access_key_id = ${user.accessKeyId}\naws_secret_access_key = ${user.secretAccessKey}\n`

const same: Keyed = { _tag: "Same" }

const scenarios: ReadonlyArray<Scenario> = [
  // Instance metadata.
  {
    name: "iam-role over IMDSv2 (the instance refuses v1)",
    setup: (context) => {
      context.metadata.configure({ v1Allowed: false })
      return imdsEnv(context)
    },
    keys: same,
    check: ({ metadata }) => {
      // Both sides asked for a session token and sent it with every GET.
      expect(metadata.requests.filter((r) => r.route === "token").length).toBeGreaterThanOrEqual(2)
      for (const request of metadata.requests.filter((r) => r.route === "roleCredentials")) {
        expect(request.headers["x-aws-ec2-metadata-token"]).toBeTypeOf("string")
      }
    }
  },
  {
    name: "iam-role over IMDSv1 after the token PUT is refused (403)",
    setup: (context) => {
      context.metadata.fault("token", { _tag: "Status", status: 403 })
      return imdsEnv(context)
    },
    keys: same,
    check: ({ metadata }) => {
      const gets = metadata.requests.filter((r) => r.route === "roleCredentials")
      expect(gets.length).toBeGreaterThanOrEqual(2)
      for (const request of gets) expect(request.headers["x-aws-ec2-metadata-token"]).toBeUndefined()
    }
  },
  {
    name: "iam-role over IMDSv1 after the token PUT times out (hop limit), endpoint and timeout from the profile",
    setup: (context) => {
      context.metadata.fault("token", { _tag: "Hang" })
      write(
        context.home,
        ".aws/config",
        `[default]\nec2_metadata_service_endpoint = ${context.metadata.url}\nmetadata_service_timeout = 1\n`
      )
      return { AWS_EC2_METADATA_DISABLED: "false" }
    },
    keys: same
  },
  {
    name: "IMDS with no role attached: both find nothing",
    setup: (context) => {
      context.metadata.configure({ role: undefined })
      return imdsEnv(context)
    }
  },
  {
    name: "difference: IMDS answers a Code other than Success",
    setup: (context) => {
      context.metadata.fault("roleCredentials", { _tag: "Code", code: "AssumeRoleUnauthorizedAccess" })
      return imdsEnv(context)
    },
    differs: {
      botocore: { ok: false, none: true },
      ours: { status: 2, reason: "ServiceError" },
      readme: "Instance metadata: broken answers (garbage, a Code that is missing or not Success, 400, 403) are errors"
    }
  },
  {
    name: "difference: IMDSv1 disabled and nothing listening",
    setup: async () => ({
      AWS_EC2_METADATA_DISABLED: "false",
      AWS_EC2_METADATA_SERVICE_ENDPOINT: await Effect.runPromise(refusedUrl),
      AWS_EC2_METADATA_V1_DISABLED: "true"
    }),
    differs: {
      botocore: { ok: false, error: "MetadataRetrievalError" },
      ours: { status: 1 },
      readme: "with IMDSv1 disabled and the service unreachable the link is unavailable after a probe (botocore raises)"
    }
  },

  // Container endpoints.
  {
    name: "container-role: full URI with AWS_CONTAINER_AUTHORIZATION_TOKEN",
    setup: (context) => ({
      AWS_CONTAINER_CREDENTIALS_FULL_URI: `${context.metadata.url}/credentials`,
      AWS_CONTAINER_AUTHORIZATION_TOKEN: containerToken
    }),
    keys: same,
    check: ({ metadata }) => {
      const asked = metadata.requests.filter((r) => r.route === "container")
      expect(asked.length).toBeGreaterThanOrEqual(2)
      for (const request of asked) expect(request.headers.authorization).toBe(containerToken)
    }
  },
  {
    name: "container-role: full URI with AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE (EKS Pod Identity style)",
    setup: (context) => ({
      AWS_CONTAINER_CREDENTIALS_FULL_URI: `${context.metadata.url}/credentials`,
      AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: write(context.home, "eks-pod-identity-token", containerToken)
    }),
    keys: same
  },
  {
    name: "container-role: container beats instance metadata",
    setup: (context) =>
      imdsEnv(context, {
        AWS_CONTAINER_CREDENTIALS_FULL_URI: `${context.metadata.url}/credentials`,
        AWS_CONTAINER_AUTHORIZATION_TOKEN: containerToken
      }),
    keys: same
  },
  {
    name: "container-role: a token the endpoint refuses (403) fails on both sides",
    setup: (context) => ({
      AWS_CONTAINER_CREDENTIALS_FULL_URI: `${context.metadata.url}/credentials`,
      AWS_CONTAINER_AUTHORIZATION_TOKEN: "not-the-token"
    })
  },

  // Assumed roles (moto with IAM auth).
  {
    name: "assume-role: source_profile with static keys",
    setup: (context) => {
      write(context.home, ".aws/config", `[profile dev]\nrole_arn = ${roleA}\nsource_profile = base\n`)
      write(context.home, ".aws/credentials", `[base]\n${userKeys()}`)
      return stsEnv(context.authMoto, { AWS_PROFILE: "dev" })
    },
    keys: { _tag: "MotoRole", moto: "auth", roleArn: () => roleA }
  },
  {
    name: "difference: assume-role with an STS endpoint URL and no region",
    setup: (context) => {
      write(context.home, ".aws/config", `[profile dev]\nrole_arn = ${roleA}\nsource_profile = base\n`)
      write(context.home, ".aws/credentials", `[base]\n${userKeys()}`)
      return { AWS_ENDPOINT_URL_STS: context.authMoto, AWS_PROFILE: "dev" }
    },
    differs: {
      botocore: { ok: false, error: "NoRegionError" },
      ours: { status: 0 },
      readme: "STS without a region: with a configured STS endpoint URL, AssumeRole is signed for us-east-1 (botocore raises NoRegionError)"
    }
  },
  {
    name: "assume-role: role -> role (dev -> mid -> static base), session name from the profile",
    setup: (context) => {
      write(
        context.home,
        ".aws/config",
        [
          "[profile dev]",
          `role_arn = ${roleA}`,
          "source_profile = mid",
          "role_session_name = parity-dev",
          "[profile mid]",
          `role_arn = ${roleB}`,
          "source_profile = base",
          ""
        ].join("\n")
      )
      write(context.home, ".aws/credentials", `[base]\n${userKeys()}`)
      return stsEnv(context.authMoto, { AWS_PROFILE: "dev" })
    },
    keys: { _tag: "MotoRole", moto: "auth", roleArn: () => roleA },
    check: async (context, ours, theirs) => {
      const sessions = await motoSessions(context.authMoto)
      for (const key of [ours.report.credentials!.accessKeyId, theirs.accessKey!]) {
        expect(sessions.get(key)?.sessionName).toBe("parity-dev")
      }
      // Each side assumed RoleB first, then RoleA with RoleB's credentials.
      expect([...sessions.values()].filter((s) => s.roleArn === roleB).length).toBeGreaterThanOrEqual(2)
    }
  },
  {
    name: "assume-role: credential_source = Environment (profile named explicitly, so env itself is dropped)",
    setup: (context) => {
      write(context.home, ".aws/config", `[profile dev]\nrole_arn = ${roleA}\ncredential_source = Environment\n`)
      return stsEnv(context.authMoto, {
        AWS_ACCESS_KEY_ID: user.accessKeyId,
        AWS_SECRET_ACCESS_KEY: user.secretAccessKey
      })
    },
    profile: "dev",
    keys: { _tag: "MotoRole", moto: "auth", roleArn: () => roleA }
  },
  {
    name: "assume-role: credential_source = Ec2InstanceMetadata (open moto)",
    setup: (context) => {
      write(context.home, ".aws/config", `[profile dev]\nrole_arn = ${openRole}\ncredential_source = Ec2InstanceMetadata\n`)
      return stsEnv(context.openMoto, imdsEnv(context, { AWS_PROFILE: "dev" }))
    },
    keys: { _tag: "MotoRole", moto: "open", roleArn: () => openRole }
  },
  {
    name: "assume-role: credential_source = EcsContainer (open moto)",
    setup: (context) => {
      write(context.home, ".aws/config", `[profile dev]\nrole_arn = ${openRole}\ncredential_source = EcsContainer\n`)
      return stsEnv(context.openMoto, {
        AWS_PROFILE: "dev",
        AWS_CONTAINER_CREDENTIALS_FULL_URI: `${context.metadata.url}/credentials`,
        AWS_CONTAINER_AUTHORIZATION_TOKEN: containerToken
      })
    },
    keys: { _tag: "MotoRole", moto: "open", roleArn: () => openRole }
  },
  {
    name: "assume-role: a source secret moto rejects (SignatureDoesNotMatch) fails on both sides",
    setup: (context) => {
      write(context.home, ".aws/config", `[profile dev]\nrole_arn = ${roleA}\nsource_profile = base\n`)
      write(
        context.home,
        ".aws/credentials",
        `[base]\naws_access_key_id = ${user.accessKeyId}\naws_secret_access_key = ${secret}\n`
      )
      return stsEnv(context.authMoto, { AWS_PROFILE: "dev" })
    }
  },

  // Web identity (open moto: moto answers unsigned calls with 500 under auth).
  {
    name: "assume-role-with-web-identity from the environment",
    setup: (context) =>
      stsEnv(context.openMoto, {
        AWS_WEB_IDENTITY_TOKEN_FILE: write(context.home, "token.jwt", "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJwYXJpdHkifQ.c2ln"),
        AWS_ROLE_ARN: openRole,
        AWS_ROLE_SESSION_NAME: "parity-pod"
      }),
    keys: { _tag: "MotoRole", moto: "open", roleArn: () => openRole }
  },
  {
    name: "assume-role-with-web-identity from the profile",
    setup: (context) => {
      const tokenFile = write(context.home, "token.jwt", "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJjaSJ9.c2ln")
      write(
        context.home,
        ".aws/config",
        `[profile ci]\nrole_arn = ${openRole}\nweb_identity_token_file = ${tokenFile}\nrole_session_name = parity-ci\n`
      )
      return stsEnv(context.openMoto, { AWS_PROFILE: "ci" })
    },
    keys: { _tag: "MotoRole", moto: "open", roleArn: () => openRole }
  },
  {
    name: "assume-role-with-web-identity with no region: the configured STS endpoint, unsigned",
    setup: (context) => ({
      AWS_ENDPOINT_URL_STS: context.openMoto,
      AWS_WEB_IDENTITY_TOKEN_FILE: write(context.home, "token.jwt", "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJub3JlZ2lvbiJ9.c2ln"),
      AWS_ROLE_ARN: openRole,
      AWS_ROLE_SESSION_NAME: "parity-no-region"
    }),
    keys: { _tag: "MotoRole", moto: "open", roleArn: () => openRole }
  },
  {
    name: "assume-role-with-web-identity: a missing token file fails on both sides",
    setup: (context) =>
      stsEnv(context.openMoto, {
        AWS_WEB_IDENTITY_TOKEN_FILE: path.join(context.home, "no-such-token.jwt"),
        AWS_ROLE_ARN: openRole
      })
  },

  // IAM Identity Center (loopback portal).
  {
    name: "sso: legacy profile (token cached under sha1 of the start URL)",
    setup: (context) => {
      const startUrl = "https://parity-legacy.awsapps.com/start"
      write(
        context.home,
        ".aws/config",
        `[profile legacy]\nsso_start_url = ${startUrl}\nsso_region = us-east-1\nsso_account_id = ${ssoAccount}\nsso_role_name = Legacy\n`
      )
      writeSsoToken(context.home, startUrl, startUrl, Date.now() + 3600_000)
      return { AWS_PROFILE: "legacy", AWS_ENDPOINT_URL_SSO: context.sso.url }
    },
    keys: same,
    check: (_, ours) => expect(ours.report.credentials?.accessKeyId).toBe(ssoKeyOf(ssoAccount, "Legacy"))
  },
  {
    name: "sso: sso_session profile (token cached under sha1 of the session name)",
    setup: (context) => {
      const startUrl = "https://parity-session.awsapps.com/start"
      write(
        context.home,
        ".aws/config",
        [
          "[profile dev]",
          "sso_session = parity",
          `sso_account_id = ${ssoAccount}`,
          "sso_role_name = Developer",
          "[sso-session parity]",
          `sso_start_url = ${startUrl}`,
          "sso_region = us-east-1",
          "sso_registration_scopes = sso:account:access",
          ""
        ].join("\n")
      )
      writeSsoToken(context.home, "parity", startUrl, Date.now() + 3600_000)
      return { AWS_PROFILE: "dev", AWS_ENDPOINT_URL_SSO: context.sso.url }
    },
    keys: same,
    check: (_, ours) => expect(ours.report.credentials?.accessKeyId).toBe(ssoKeyOf(ssoAccount, "Developer"))
  },
  {
    name: "sso: an expired token fails on both sides",
    setup: (context) => {
      const startUrl = "https://parity-expired.awsapps.com/start"
      write(
        context.home,
        ".aws/config",
        `[default]\nsso_start_url = ${startUrl}\nsso_region = us-east-1\nsso_account_id = ${ssoAccount}\nsso_role_name = Old\n`
      )
      writeSsoToken(context.home, startUrl, startUrl, Date.now() - 60_000)
      return { AWS_ENDPOINT_URL_SSO: context.sso.url }
    }
  },
  {
    name: "sso: no token cached (never logged in) fails on both sides",
    setup: (context) => {
      write(
        context.home,
        ".aws/config",
        `[default]\nsso_start_url = https://parity-none.awsapps.com/start\nsso_region = us-east-1\nsso_account_id = ${ssoAccount}\nsso_role_name = None\n`
      )
      return { AWS_ENDPOINT_URL_SSO: context.sso.url }
    }
  },
  {
    name: "sso: an sso profile as the source of an assumed role (open moto)",
    setup: (context) => {
      const startUrl = "https://parity-root.awsapps.com/start"
      write(
        context.home,
        ".aws/config",
        [
          "[profile dev]",
          `role_arn = ${openRole}`,
          "source_profile = portal",
          "[profile portal]",
          `sso_start_url = ${startUrl}`,
          "sso_region = us-east-1",
          `sso_account_id = ${ssoAccount}`,
          "sso_role_name = Root",
          ""
        ].join("\n")
      )
      writeSsoToken(context.home, startUrl, startUrl, Date.now() + 3600_000)
      return stsEnv(context.openMoto, { AWS_PROFILE: "dev", AWS_ENDPOINT_URL_SSO: context.sso.url })
    },
    keys: { _tag: "MotoRole", moto: "open", roleArn: () => openRole }
  },
  // `aws login`: botocore needs `botocore[crt]` for login_session profiles (it signs the DPoP proof
  // with awscrt), which is not installed on these machines; we need no native dependency.
  {
    name: "difference: aws login without botocore[crt]",
    setup: (context) => {
      const session = "arn:aws:sts::012345678910:assumed-role/Admin/admin"
      write(context.home, path.join(".aws", "config"), `[default]\nlogin_session = ${session}\nregion = us-east-1\n`)
      write(
        context.home,
        path.join(".aws", "login", "cache", `${crypto.createHash("sha256").update(session).digest("hex")}.json`),
        JSON.stringify({
          accessToken: {
            accessKeyId: "AKIALOGINPARITY00001",
            secretAccessKey: "loginParitySecretNeverShown0000000000001",
            sessionToken: "loginParitySessionToken",
            accountId: "012345678910",
            expiresAt: iso(Date.now() + 3_600_000)
          },
          clientId: "arn:aws:signin:::devtools/same-device",
          refreshToken: "loginParityRefreshToken",
          dpopKey: "unused while the cached credentials are fresh"
        })
      )
      return {}
    },
    differs: {
      botocore: { ok: false, error: "MissingDependencyException" },
      ours: { status: 0 },
      readme: "`aws login`: botocore needs `botocore[crt]` for it"
    },
    check: (_context, ours) => {
      expect(ours.report.credentials?.source).toBe("login")
      expect(ours.report.credentials?.accessKeyId).toBe("AKIALOGINPARITY00001")
    }
  }
]

const describeIf = available ? describe : describe.skip

describeIf(`explain --json agrees with botocore on remote sources${available ? "" : ` (skipped: ${skipReason})`}`, () => {
  const results: Array<string> = []
  afterAll(() => {
    console.log(`botocore parity (remote sources): ${results.length} scenarios\n  ${results.join("\n  ")}`)
  })

  let counter = 0
  for (const scenario of scenarios) {
    it(scenario.name, async () => {
      const home = path.join(root, `home${counter++}`)
      fs.mkdirSync(home, { recursive: true })
      metadata.resetCounts()
      const context: Context = {
        home,
        metadata,
        sso,
        authMoto: authMoto.current().url,
        openMoto: openMoto.current().url
      }
      const env = minimalEnv(home, await scenario.setup(context))
      const [theirs, ours] = await Promise.all([runOracle(env, scenario.profile), runOurs(env, scenario.profile)])
      expect(ours.stdout + ours.stderr).not.toContain(secret)
      expect(ours.stdout + ours.stderr).not.toContain(ssoToken)
      expect(ours.stdout + ours.stderr).not.toContain(containerToken)
      expect(ours.stdout.trimStart().startsWith("{"), ours.stdout).toBe(true)

      if (scenario.differs !== undefined) {
        expect(theirs).toMatchObject(scenario.differs.botocore)
        expect(ours.status, JSON.stringify(ours.report)).toBe(scenario.differs.ours.status)
        if (scenario.differs.ours.reason !== undefined) {
          expect(ours.report.error?.reason).toBe(scenario.differs.ours.reason)
        }
        results.push(
          `${scenario.name}: botocore ${JSON.stringify(theirs)}, ours exit ${ours.status}${
            ours.report.error === undefined ? "" : ` ${ours.report.error.reason}`
          } (README: ${scenario.differs.readme})`
        )
        await scenario.check?.(context, ours, theirs)
        return
      }
      if (theirs.ok) {
        expect(ours.status, JSON.stringify(ours.report)).toBe(0)
        expect(ours.report.credentials?.source).toBe(theirs.method)
        const keys = scenario.keys ?? same
        if (keys._tag === "Same") {
          expect(ours.report.credentials?.accessKeyId).toBe(theirs.accessKey)
        } else {
          const sessions = await motoSessions(keys.moto === "auth" ? context.authMoto : context.openMoto)
          const ourKey = ours.report.credentials!.accessKeyId
          const theirKey = theirs.accessKey!
          expect(sessions.get(ourKey)?.roleArn, `our key ${ourKey}`).toBe(keys.roleArn())
          expect(sessions.get(theirKey)?.roleArn, `botocore's key ${theirKey}`).toBe(keys.roleArn())
        }
      } else if (theirs.none === true) {
        expect(ours.status, JSON.stringify(ours.report)).toBe(1)
        expect(ours.report.error?._tag).toBe("NoCredentialsFound")
      } else {
        expect(ours.status, `botocore raised ${theirs.error}; ours: ${JSON.stringify(ours.report)}`).toBe(2)
        expect(ours.report.error?._tag).toBe("CredentialsError")
      }
      await scenario.check?.(context, ours, theirs)
      results.push(
        `${scenario.name}: ${theirs.ok ? `${theirs.method} ${theirs.accessKey}` : theirs.error ?? "none"} = ours${
          theirs.ok ? ` ${ours.report.credentials?.accessKeyId}` : ` ${ours.report.error?.reason ?? ""}`
        }`
      )
    }, 90_000)
  }

})
