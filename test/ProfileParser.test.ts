import { assert, describe, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as Inspectable from "effect/Inspectable"
import * as util from "node:util"
import * as ProfileFile from "../src/ProfileFile.js"
import type { FileKind, ParsedFile } from "../src/ProfileFile.js"

const { locate: locateFiles, merge: mergeFiles, subProperties } = ProfileFile

interface ProfileParseError {
  readonly _tag: "ProfileParseError"
  readonly path: string
  readonly line: number
  readonly message: string
}

/** The parser's verdict in the shape these tests were written against: the syntax error alone. */
const parseFile = (text: string, kind: FileKind, path: string): Either.Either<ParsedFile, ProfileParseError> =>
  Either.mapLeft(ProfileFile.parse(text, kind, path), (error) => ({
    _tag: "ProfileParseError",
    path: error.path ?? "",
    line: error.line ?? 0,
    message: error.detail.replace(/^cannot parse the \w+ file: /, "")
  }))

const parseOk = (text: string, kind: FileKind = "config", path = `/home/u/.aws/${kind}`): ParsedFile => {
  const result = parseFile(text, kind, path)
  if (Either.isLeft(result)) return assert.fail(`unexpected error: ${JSON.stringify(result.left)}`)
  return result.right
}

const parseErr = (text: string, kind: FileKind = "config", path = `/home/u/.aws/${kind}`): ProfileParseError => {
  const result = parseFile(text, kind, path)
  if (Either.isRight(result)) return assert.fail("expected a parse error")
  return result.left
}

const profileValues = (file: ParsedFile, name: string): Record<string, string> | undefined => {
  const profile = mergeFiles(file.kind === "config" ? file : undefined, file.kind === "credentials" ? file : undefined)
    .profiles.get(name)
  return profile === undefined ? undefined : Object.fromEntries([...profile.properties].map(([k, p]) => [k, p.value]))
}

describe("parseFile: errors", () => {
  it("carry the 1-based line and the path", () => {
    const error = parseErr("# comment\n\n[profile foo]\nregion = us-east-1\nkey : value\n", "config", "/tmp/cfg")
    assert.deepStrictEqual(error, {
      _tag: "ProfileParseError",
      path: "/tmp/cfg",
      line: 5,
      message: "Expected an '=' sign defining a property"
    })
  })

  it("report each kind of mistake on its own line", () => {
    const cases: ReadonlyArray<readonly [string, number, string]> = [
      ["region = x", 1, "Expected a profile definition"],
      ["\n\n  -continued", 3, "Expected a profile definition"],
      ["[profile foo]\n[profile bar", 2, "Profile definition must end with ']'"],
      ["[profile foo]\nregion = x\n= value", 3, "Property did not have a name"],
      ["[profile foo]\n\n -continued", 3, "Expected a property definition, found continuation"],
      ["[profile foo]\ns3 =\n  a = b\n  invalid", 4, "Expected an '=' sign defining a sub-property"],
      ["[profile foo]\ns3 =\n  a = b\n\n  = c", 5, "Sub-property did not have a name"]
    ]
    for (const [text, line, message] of cases) {
      const error = parseErr(text)
      assert.strictEqual(error.line, line, text)
      assert.include(error.message, message, text)
    }
  })

  it("count lines the same with CRLF endings and a BOM", () => {
    const error = parseErr("\uFEFF[profile foo]\r\nregion = x\r\noops\r\n")
    assert.strictEqual(error.line, 3)
  })

  it("are raised inside ignored sections too (syntax is checked everywhere)", () => {
    assert.strictEqual(parseErr("[profile in valid]\nkey : value").line, 2)
  })
})

describe("parseFile: text handling", () => {
  it("strips a leading UTF-8 BOM", () => {
    const file = parseOk("\uFEFF[profile foo]\nregion = us-west-2")
    assert.deepStrictEqual(profileValues(file, "foo"), { region: "us-west-2" })
  })

  it("handles CRLF line endings in headers, values, continuations and sub-properties", () => {
    const file = parseOk(
      "[profile foo] ; c\r\nregion = eu-west-1 # c\r\ncmd = a\r\n  b\r\ns3 =\r\n  addressing_style = path\r\n"
    )
    assert.deepStrictEqual(profileValues(file, "foo"), {
      region: "eu-west-1",
      cmd: "a\nb",
      s3: "\naddressing_style = path"
    })
  })

  it("records 1-based lines for headers and properties", () => {
    const file = parseOk("\n[profile foo]\n\nregion = x\nregion = y\n[profile foo]\nname = n")
    const section = file.sections[0]!
    assert.strictEqual(file.sections.length, 1)
    assert.strictEqual(section.line, 2)
    assert.deepStrictEqual(section.properties.get("region"), { value: "y", line: 5 })
    assert.deepStrictEqual(section.properties.get("name"), { value: "n", line: 7 })
  })

  it("keeps the line of the key, not of its last continuation", () => {
    const file = parseOk("[profile foo]\ns3 =\n  a = 1\n  b = 2")
    assert.deepStrictEqual(file.sections[0]!.properties.get("s3"), { value: "\na = 1\nb = 2", line: 2 })
  })

  it("lower-cases keys", () => {
    assert.deepStrictEqual(profileValues(parseOk("[profile foo]\nAWS_Access_Key_ID = AK"), "foo"), {
      aws_access_key_id: "AK"
    })
  })
})

describe("parseFile: sections", () => {
  it("reads [sso-session x] and [services x] sections from the config file", () => {
    const file = parseOk(
      [
        "[profile dev]",
        "sso_session = corp",
        "services = local",
        "[sso-session corp]",
        "sso_region = us-east-1",
        "sso_start_url = https://example.awsapps.com/start",
        "[services local]",
        "s3 =",
        "  endpoint_url = http://localhost:9000",
        "dynamodb =",
        "  endpoint_url = http://localhost:8000"
      ].join("\n")
    )
    assert.deepStrictEqual(
      file.sections.map((s) => [s.kind, s.name, s.line]),
      [["profile", "dev", 1], ["sso-session", "corp", 4], ["services", "local", 7]]
    )
    const set = mergeFiles(file, undefined)
    assert.deepStrictEqual([...set.profiles.keys()], ["dev"])
    assert.strictEqual(set.ssoSessions.get("corp")?.properties.get("sso_region")?.value, "us-east-1")
    const s3 = set.services.get("local")?.properties.get("s3")
    assert.strictEqual(s3?.value, "\nendpoint_url = http://localhost:9000")
    assert.strictEqual(s3?.line, 8)
  })

  it("does not read sso-session or services sections from the credentials file", () => {
    const file = parseOk("[sso-session corp]\nsso_region = x\n[services local]\ns3 =\n  a = b", "credentials")
    assert.deepStrictEqual(file.sections, [])
  })

  it("[profile default] wins over [default] in the config file, not in the credentials file", () => {
    const config = parseOk("[default]\nregion = a\n[profile default]\noutput = json")
    assert.deepStrictEqual(profileValues(config, "default"), { output: "json" })
    assert.deepStrictEqual(profileValues(parseOk("[default]\nregion = a"), "default"), { region: "a" })
    const credentials = parseOk("[default]\nregion = a\n[profile default]\noutput = json", "credentials")
    assert.deepStrictEqual(profileValues(credentials, "default"), { region: "a" })
  })

  it("ignores indented lines after a property in an ignored section", () => {
    const file = parseOk("[profile bad!]\ns3 =\n  a = b\n[profile ok]\nx = 1")
    assert.deepStrictEqual(file.sections.map((s) => s.name), ["ok"])
  })
})

describe("subProperties", () => {
  it("parses a sub-property value into a lower-cased map with trimmed values", () => {
    const parsed = subProperties("\nendpoint_url = http://x\nRegion =  y \t")
    assert.deepStrictEqual([...parsed], [["endpoint_url", "http://x"], ["region", "y"]])
  })

  it("round-trips a parsed file's value and keeps '=' inside values", () => {
    const file = parseOk("[services s]\ns3 =\n  endpoint_url = http://h/?a=b\n\n  addressing_style = path")
    const value = file.sections[0]!.properties.get("s3")!.value
    assert.deepStrictEqual(
      Object.fromEntries(subProperties(value)),
      { endpoint_url: "http://h/?a=b", addressing_style: "path" }
    )
  })

  it("skips blank lines and lines without a name or '='; the last definition wins", () => {
    assert.deepStrictEqual(Object.fromEntries(subProperties("\n\n a = 1\n junk\n = 2\n a = 3\n")), { a: "3" })
    assert.strictEqual(subProperties("").size, 0)
  })
})

describe("mergeFiles", () => {
  it("credentials-file properties override config-file ones, with the provenance of the winner", () => {
    const config = parseOk("[profile foo]\nregion = us-east-1\naws_access_key_id = FROM_CONFIG", "config", "/c")
    const credentials = parseOk("\n[foo]\n\naws_access_key_id = FROM_CREDENTIALS\n[bar]\nx = 1", "credentials", "/k")
    const set = mergeFiles(config, credentials)
    const foo = set.profiles.get("foo")!
    assert.deepStrictEqual(foo.properties.get("region"), { value: "us-east-1", path: "/c", line: 2 })
    assert.deepStrictEqual(foo.properties.get("aws_access_key_id"), {
      value: "FROM_CREDENTIALS",
      path: "/k",
      line: 4,
      // Kept for the config-file source, which reads the config file alone (as botocore does).
      overridden: { value: "FROM_CONFIG", path: "/c", line: 3 }
    })
    assert.deepStrictEqual(set.profiles.get("bar")?.properties.get("x"), { value: "1", path: "/k", line: 6 })
    assert.deepStrictEqual([...set.profiles.keys()], ["foo", "bar"])
  })

  it("secret values print and serialize redacted, and stay readable", () => {
    const credentials = parseOk(
      "[foo]\naws_access_key_id = AKIDVISIBLE\naws_secret_access_key = s3cr3t-value\naws_session_token = t0ken-value",
      "credentials",
      "/k"
    )
    const set = mergeFiles(undefined, credentials)
    const foo = set.profiles.get("foo")!
    const shownForms = [
      util.inspect(set, { depth: 10 }),
      util.inspect(credentials, { depth: 10 }),
      JSON.stringify(foo.properties.get("aws_secret_access_key")),
      JSON.stringify([...foo.properties.values()]),
      Inspectable.format([...foo.properties.values()])
    ]
    for (const shown of shownForms) {
      assert.notInclude(shown, "s3cr3t-value")
      assert.notInclude(shown, "t0ken-value")
    }
    assert.include(util.inspect(set, { depth: 10 }), "AKIDVISIBLE")
    assert.strictEqual(foo.properties.get("aws_secret_access_key")?.value, "s3cr3t-value")
  })

  it("accepts either file missing", () => {
    const empty = mergeFiles(undefined, undefined)
    assert.strictEqual(empty.profiles.size + empty.ssoSessions.size + empty.services.size, 0)
    const onlyCredentials = mergeFiles(undefined, parseOk("[default]\nk = v", "credentials", "/k"))
    assert.strictEqual(onlyCredentials.profiles.get("default")?.properties.get("k")?.path, "/k")
  })
})

describe("locateFiles", () => {
  it("defaults to ~/.aws/config and ~/.aws/credentials", () => {
    assert.deepStrictEqual(locateFiles({ HOME: "/home/u" }, "linux"), {
      home: "/home/u",
      configFile: "/home/u/.aws/config",
      credentialsFile: "/home/u/.aws/credentials"
    })
    assert.strictEqual(locateFiles({ HOME: "/" }, "darwin").configFile, "/.aws/config")
  })

  it("expands a leading ~ in AWS_CONFIG_FILE and AWS_SHARED_CREDENTIALS_FILE", () => {
    const linux = locateFiles(
      { HOME: "/home/u", AWS_CONFIG_FILE: "~/cfg/config", AWS_SHARED_CREDENTIALS_FILE: "~" },
      "linux"
    )
    assert.strictEqual(linux.configFile, "/home/u/cfg/config")
    assert.strictEqual(linux.credentialsFile, "/home/u")
    const windows = locateFiles(
      { USERPROFILE: "C:\\Users\\u", AWS_CONFIG_FILE: "~\\cfg\\config", AWS_SHARED_CREDENTIALS_FILE: "~/creds" },
      "windows"
    )
    assert.strictEqual(windows.configFile, "C:\\Users\\u\\cfg\\config")
    assert.strictEqual(windows.credentialsFile, "C:\\Users\\u/creds")
  })

  it("does not expand ~user, ~\\ off windows, or ~ without a home", () => {
    assert.strictEqual(locateFiles({ HOME: "/h", AWS_CONFIG_FILE: "~bob/config" }, "linux").configFile, "~bob/config")
    assert.strictEqual(locateFiles({ HOME: "/h", AWS_CONFIG_FILE: "~\\config" }, "linux").configFile, "~\\config")
    const homeless = locateFiles({ AWS_CONFIG_FILE: "~/config" }, "linux")
    assert.deepStrictEqual(homeless, { home: undefined, configFile: "~/config", credentialsFile: undefined })
  })

  it("treats empty-string variables as unset", () => {
    assert.deepStrictEqual(
      locateFiles(
        { HOME: "", USERPROFILE: "", HOMEDRIVE: "D:", HOMEPATH: "\\u", AWS_CONFIG_FILE: "", AWS_SHARED_CREDENTIALS_FILE: "" },
        "windows"
      ),
      { home: "D:\\u", configFile: "D:\\u\\.aws\\config", credentialsFile: "D:\\u\\.aws\\credentials" }
    )
    assert.deepStrictEqual(locateFiles({ HOME: "" }, "linux"), {
      home: undefined,
      configFile: undefined,
      credentialsFile: undefined
    })
  })

  it("uses only HOME off windows", () => {
    assert.strictEqual(locateFiles({ USERPROFILE: "/x", HOMEDRIVE: "C:", HOMEPATH: "\\u" }, "linux").home, undefined)
  })
})
