/**
 * `AwsClient.make` with DynamoDB and SQS against moto with IAM authentication switched on
 * (signatures verified): credentials from a named profile of the shared credentials file, the
 * endpoint from that profile's `[services]` section, the region from the profile. A wrong secret
 * is refused, and the error names the signing credentials. The example runs against it too.
 */
import {
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand
} from "@aws-sdk/client-dynamodb"
import { CreateQueueCommand, ReceiveMessageCommand, SendMessageCommand, SQSClient } from "@aws-sdk/client-sqs"
import { assert, beforeAll, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as path from "node:path"
import * as AwsClient from "../../src/AwsClient.js"
import type * as AwsCredentials from "../../src/AwsCredentials.js"
import * as AwsRegion from "../../src/AwsRegion.js"
import type * as AwsSession from "../../src/AwsSession.js"
import type { CredentialsError, CredentialsUnavailable } from "../../src/CredentialsError.js"
import * as SharedCredentialsFile from "../../src/providers/SharedCredentialsFile.js"
import { getFailure, getSuccess, type Platform, runTsx, runWith, type TempHome, tempHome } from "../support/fixtures.js"
import { assertNoSecrets } from "../support/secrets.js"
import { type Keys, motoAvailable, motoMissingReason, useMoto } from "./moto.js"

const moto = useMoto()
const suite = motoAvailable ? describe : describe.skip
const suffix = motoAvailable ? "" : ` (skipped: ${motoMissingReason})`

let user: Keys

beforeAll(async () => {
  if (!motoAvailable) return
  user = await moto.current().createUser("client-user")
  await moto.current().enableAuth()
}, 60_000)

type SourceLayer = Layer.Layer<
  AwsCredentials.AwsCredentials,
  CredentialsUnavailable | CredentialsError,
  AwsSession.AwsSession | Platform
>

/** Profile `dev`: its keys, region eu-west-2, and DynamoDB and SQS sent to moto by `[services local]`. */
const devProfile = (home: TempHome, keys: Keys) => {
  home.writeCredentials(`[dev]\naws_access_key_id = ${keys.accessKeyId}\naws_secret_access_key = ${keys.secretAccessKey}\n`)
  home.writeConfig(
    `[profile dev]\nregion = eu-west-2\nservices = local\n` +
      `[services local]\ndynamodb =\n  endpoint_url = ${moto.current().url}\nsqs =\n  endpoint_url = ${moto.current().url}\n`
  )
  return home.env({ AWS_EC2_METADATA_DISABLED: "true" })
}

const onProfile = <A, E>(
  home: TempHome,
  keys: Keys,
  use: Effect.Effect<A, E, AwsCredentials.AwsCredentials | AwsRegion.AwsRegion | AwsSession.AwsSession | Scope.Scope>
) =>
  runWith(
    SharedCredentialsFile.layer as SourceLayer,
    { env: devProfile(home, keys), session: { profile: "dev" } },
    Effect.scoped(use).pipe(Effect.provide(AwsRegion.layer))
  )

suite(`AwsClient on moto with IAM auth${suffix}`, () => {
  it.scopedLive("DynamoDB CreateTable / PutItem / GetItem and SQS CreateQueue / SendMessage / ReceiveMessage", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const exit = yield* onProfile(
        home,
        user,
        Effect.gen(function*() {
          const dynamo = yield* AwsClient.make(DynamoDBClient)
          const sqs = yield* AwsClient.make(SQSClient)
          const table = `items-${Date.now().toString(36)}`
          yield* dynamo.send(
            new CreateTableCommand({
              TableName: table,
              KeySchema: [{ AttributeName: "id", KeyType: "HASH" }],
              AttributeDefinitions: [{ AttributeName: "id", AttributeType: "S" }],
              BillingMode: "PAY_PER_REQUEST"
            })
          )
          const described = yield* AwsClient.send(dynamo, new DescribeTableCommand({ TableName: table }))
          yield* dynamo.send(new PutItemCommand({ TableName: table, Item: { id: { S: "1" }, text: { S: "hello" } } }))
          const item = yield* dynamo.send(new GetItemCommand({ TableName: table, Key: { id: { S: "1" } } }))
          const queue = yield* sqs.send(new CreateQueueCommand({ QueueName: `jobs-${Date.now().toString(36)}` }))
          yield* sqs.send(new SendMessageCommand({ QueueUrl: queue.QueueUrl, MessageBody: "job 1" }))
          const received = yield* sqs.send(
            new ReceiveMessageCommand({ QueueUrl: queue.QueueUrl, MaxNumberOfMessages: 1, WaitTimeSeconds: 0 })
          )
          return { dynamo, sqs, described, item, received }
        })
      )
      const { described, dynamo, item, received, sqs } = getSuccess(exit)
      assert.strictEqual(dynamo.service, "DynamoDB")
      assert.strictEqual(sqs.service, "SQS")
      assert.deepStrictEqual(dynamo.endpoint, Option.some(moto.current().url))
      assert.strictEqual(dynamo.region, "eu-west-2")
      // moto keeps the region of the request's signature scope.
      assert.include(described.Table?.TableArn ?? "", ":eu-west-2:")
      assert.strictEqual(item.Item?.["text"]?.S, "hello")
      assert.strictEqual(received.Messages?.[0]?.Body, "job 1")
    }))

  it.scopedLive("a wrong secret: CredentialsRejected, naming the key and the profile it came from, no secret", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const wrong = { ...user, secretAccessKey: "wrong-secret-never-printed-0123456789" }
      const exit = yield* onProfile(
        home,
        wrong,
        Effect.gen(function*() {
          const dynamo = yield* AwsClient.make(DynamoDBClient)
          const sqs = yield* AwsClient.make(SQSClient)
          const a = yield* Effect.flip(dynamo.send(new GetItemCommand({ TableName: "t", Key: { id: { S: "1" } } })))
          const b = yield* Effect.flip(sqs.send(new CreateQueueCommand({ QueueName: "refused" })))
          return [a, b] as const
        })
      )
      for (const error of getSuccess(exit)) {
        assert.strictEqual(error._tag, "AwsServiceError")
        if (error._tag !== "AwsServiceError") continue
        assert.strictEqual(error.reason, "CredentialsRejected")
        assert.strictEqual(error.status, 403)
        assert.strictEqual(error.signedWith?.source, "shared-credentials-file")
        assert.include(error.message, "the secret key does not match access key")
        assert.include(error.message, "profile dev")
        assertNoSecrets(error.message, [wrong.secretAccessKey, user.secretAccessKey])
      }
    }))

  it.scopedLive("examples/dynamodb-sqs.ts against moto, through AWS_ENDPOINT_URL", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const result = yield* Effect.promise(() =>
        runTsx(path.join("examples", "dynamodb-sqs.ts"), [], {
          HOME: home.dir,
          AWS_ENDPOINT_URL: moto.current().url,
          AWS_REGION: "us-east-1",
          AWS_ACCESS_KEY_ID: user.accessKeyId,
          AWS_SECRET_ACCESS_KEY: user.secretAccessKey
        })
      )
      assert.strictEqual(result.status, 0, result.stderr)
      assert.include(result.stdout, "DynamoDB: put and got back")
      assert.include(result.stdout, "SQS: sent and received")
      assert.notInclude(result.stdout + result.stderr, user.secretAccessKey)
    }), { timeout: 60_000 })

  it.scopedLive("a missing table: ServiceError with the service's code", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const error = getFailure(
        yield* onProfile(home, user, Effect.flatMap(AwsClient.make(DynamoDBClient), (dynamo) =>
          dynamo.send(new GetItemCommand({ TableName: "no-such-table", Key: { id: { S: "1" } } }))))
      )
      assert.strictEqual(error._tag, "AwsServiceError")
      if (error._tag !== "AwsServiceError") return
      assert.strictEqual(error.reason, "ServiceError")
      assert.strictEqual(error.code, "ResourceNotFoundException")
      assert.strictEqual(error.operation, "GetItem")
      assert.isFalse(error.retryable)
    }))
})
