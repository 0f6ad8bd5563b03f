/**
 * DynamoDB and SQS on the session: a table, an item put and read back, a queue, a message sent
 * and received, each client built by `AwsClient.make` with the chain's credentials, the session's
 * region and the endpoint botocore would use.
 *
 *   python3 -m moto.server -H 127.0.0.1 -p 5000 &
 *   AWS_ENDPOINT_URL=http://127.0.0.1:5000 npm run example -- examples/dynamodb-sqs.ts
 *     offline, against moto: credentials from the default chain (example keys when the machine
 *     has none), the region from the session (us-east-1 when none is set).
 *
 * Without a configured endpoint (`AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_DYNAMODB` and
 * `AWS_ENDPOINT_URL_SQS`, or a profile's `[services]` section) it would create a table and a
 * queue in your account: it says so and stops, unless `EXAMPLE_USE_AWS=true`.
 */
import { CreateTableCommand, DeleteTableCommand, DynamoDBClient, GetItemCommand, PutItemCommand } from "@aws-sdk/client-dynamodb"
import { CreateQueueCommand, DeleteQueueCommand, ReceiveMessageCommand, SendMessageCommand, SQSClient } from "@aws-sdk/client-sqs"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Clock from "effect/Clock"
import * as Config from "effect/Config"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { AwsClient, AwsCredentials, AwsRegion, AwsSession, CredentialChain } from "effect-aws-credentials"

const program = Effect.gen(function*() {
  // boto3: session.client("dynamodb"); the JS SDK: new DynamoDBClient({ region, credentials, endpoint })
  const dynamo = yield* AwsClient.make(DynamoDBClient)
  const sqs = yield* AwsClient.make(SQSClient)
  yield* Console.log(`DynamoDB at ${Option.getOrElse(dynamo.endpoint, () => "AWS")}, SQS at ${
    Option.getOrElse(sqs.endpoint, () => "AWS")
  }, region ${dynamo.region}`)
  if (Option.isNone(dynamo.endpoint) || Option.isNone(sqs.endpoint)) {
    const allowed = yield* Config.boolean("EXAMPLE_USE_AWS").pipe(Config.withDefault(false))
    if (!allowed) {
      yield* Console.error(
        "No endpoint is configured, so this would create a table and a queue in your AWS account.\n" +
          "Set AWS_ENDPOINT_URL to a local server (python3 -m moto.server), or EXAMPLE_USE_AWS=true."
      )
      return yield* Effect.sync(() => {
        process.exitCode = 2
      })
    }
  }

  const suffix = (yield* Clock.currentTimeMillis).toString(36)
  const table = `example-${suffix}`
  yield* dynamo.send(
    new CreateTableCommand({
      TableName: table,
      KeySchema: [{ AttributeName: "id", KeyType: "HASH" }],
      AttributeDefinitions: [{ AttributeName: "id", AttributeType: "S" }],
      BillingMode: "PAY_PER_REQUEST"
    })
  )
  // boto3: dynamo.put_item(TableName=table, Item={...}); JS SDK: await dynamo.send(new PutItemCommand({...}))
  yield* dynamo.send(new PutItemCommand({ TableName: table, Item: { id: { S: "greeting" }, text: { S: "hello" } } }))
  const { Item } = yield* dynamo.send(new GetItemCommand({ TableName: table, Key: { id: { S: "greeting" } } }))
  yield* Console.log(`DynamoDB: put and got back ${Item?.["text"]?.S} from ${table}`)
  yield* dynamo.send(new DeleteTableCommand({ TableName: table }))

  const { QueueUrl } = yield* sqs.send(new CreateQueueCommand({ QueueName: `example-${suffix}` }))
  yield* sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: "job 1" }))
  const { Messages } = yield* sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 1, WaitTimeSeconds: 1 }))
  yield* Console.log(`SQS: sent and received "${Messages?.[0]?.Body}"`)
  yield* sqs.send(new DeleteQueueCommand({ QueueUrl }))
})

/** The default chain (example keys when it finds nothing), the session's region (else us-east-1). */
const session = AwsSession.layerNode()
const credentials = Layer.orElse(
  CredentialChain.layerNode(),
  () => AwsCredentials.layerStatic({ accessKeyId: "AKIDEXAMPLE", secretAccessKey: "example-secret-never-printed" })
)
const region = AwsRegion.layer.pipe(Layer.provide(session), Layer.orElse(() => AwsRegion.layerStatic("us-east-1")))

program.pipe(
  Effect.scoped,
  Effect.provide(Layer.mergeAll(credentials, region, session)),
  // A readable line and a failing exit status, not a stack trace.
  Effect.tapError((error) => Console.error(`${error._tag}: ${error.message}`)),
  Effect.catchAll(() =>
    Effect.sync(() => {
      process.exitCode = 1
    })
  ),
  NodeRuntime.runMain
)
