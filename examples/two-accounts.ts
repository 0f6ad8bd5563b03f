/**
 * Two accounts in one program: the audit part works with a role in one account, the backup part
 * with a role in another, both assumed in code (`AssumeRole.layerFromArn`) from the credentials
 * the default chain finds. Each part only asks for `AwsCredentials`; which credentials it gets is
 * decided where the layer is provided.
 *
 *   AWS_ENDPOINT_URL=http://127.0.0.1:5000 AWS_REGION=us-east-1 \
 *   AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test npm run example -- examples/two-accounts.ts
 *     offline, against moto (`python3 -m moto.server -H 127.0.0.1 -p 5000`) or any STS on
 *     loopback (AWS_ENDPOINT_URL_STS works too), with the example roles below
 *
 *   AUDIT_ROLE_ARN=arn:aws:iam::...:role/... BACKUP_ROLE_ARN=arn:aws:iam::...:role/... \
 *   npm run example -- examples/two-accounts.ts
 *     against AWS, with your roles and your credentials
 *
 * With neither an STS endpoint nor your own roles it says so and stops: it never calls AWS with
 * the example roles.
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Config from "effect/Config"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { AssumeRole, AwsCredentials, CredentialChain } from "effect-aws-credentials"

/** A part of the program: it does not know which account it works in. */
const whoAmI = (part: string) =>
  Effect.gen(function*() {
    const credentials = yield* (yield* AwsCredentials.AwsCredentials).get
    const account = Option.getOrElse(credentials.accountId, () => "not known")
    yield* Console.log(`${part}: account ${account}, key ${credentials.accessKeyId}`)
    yield* Console.log(`  ${credentials.provenance}`)
  })

const program = Effect.gen(function*() {
  const endpoint = yield* Config.option(
    Config.nonEmptyString("AWS_ENDPOINT_URL_STS").pipe(Config.orElse(() => Config.nonEmptyString("AWS_ENDPOINT_URL")))
  )
  const auditRole = yield* Config.option(Config.nonEmptyString("AUDIT_ROLE_ARN"))
  const backupRole = yield* Config.option(Config.nonEmptyString("BACKUP_ROLE_ARN"))
  if (Option.isNone(endpoint) && (Option.isNone(auditRole) || Option.isNone(backupRole))) {
    yield* Console.error(
      "Set AWS_ENDPOINT_URL (or AWS_ENDPOINT_URL_STS) to an STS on loopback, e.g. moto, or set AUDIT_ROLE_ARN and " +
        "BACKUP_ROLE_ARN to roles of yours: the example roles are not called on AWS."
    )
    process.exitCode = 2
    return
  }

  // One role per part, each assumed with whatever the default chain provides below.
  const Audit = AssumeRole.layerFromArn({
    roleArn: Option.getOrElse(auditRole, () => "arn:aws:iam::111111111111:role/Audit"),
    roleSessionName: "audit-report"
  })
  const Backup = AssumeRole.layerFromArn({
    roleArn: Option.getOrElse(backupRole, () => "arn:aws:iam::222222222222:role/Backup"),
    roleSessionName: "nightly-backup",
    tags: { job: "backup" }
  })

  yield* Effect.all([
    whoAmI("audit").pipe(Effect.provide(Audit)),
    whoAmI("backup").pipe(Effect.provide(Backup)),
    // The rest of the program keeps the chain's own credentials.
    whoAmI("the rest")
  ])
})

program.pipe(
  // The parent credentials and the session (region, STS endpoint), built once for both parts.
  Effect.provide(CredentialChain.layerNode()),
  // A readable line and a failing exit status, not a stack trace.
  Effect.tapError((error) => Console.error(`${error._tag}: ${error.message}`)),
  Effect.catchAll(() =>
    Effect.sync(() => {
      process.exitCode = 1
    })
  ),
  NodeRuntime.runMain
)
