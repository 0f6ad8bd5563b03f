/**
 * Every code block of the README is checked, so that none can rot: each `ts` block is compiled
 * as a module of its own (importing the package by its name, as a user's file would) with the
 * repository's compiler options, and each `json` block must parse. A block that needs context
 * must carry its own imports and declarations; that is what a reader copying it needs too.
 */
import { assert, describe, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import ts from "typescript"
import { repoRoot } from "./support/fixtures.js"

interface Block {
  readonly lang: string
  /** 1-based line of the README where the block's first line of code is. */
  readonly line: number
  readonly code: string
}

/** Fenced blocks, indented ones (inside list items) included, with their indentation removed. */
const blocks = (markdown: string): ReadonlyArray<Block> => {
  const found: Array<Block> = []
  const lines = markdown.split("\n")
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)```(\w+)\s*$/.exec(lines[i]!)
    if (open === null) continue
    const indent = open[1]!.length
    const body: Array<string> = []
    let j = i + 1
    while (j < lines.length && !/^\s*```\s*$/.test(lines[j]!)) body.push(lines[j++]!.slice(indent))
    found.push({ lang: open[2]!, line: i + 2, code: body.join("\n") + "\n" })
    i = j
  }
  return found
}

const readme = fs.readFileSync(path.join(repoRoot, "README.md"), "utf8")
const all = blocks(readme)

const compilerOptions = (): ts.CompilerOptions => {
  const file = path.join(repoRoot, "tsconfig.json")
  const config = ts.readConfigFile(file, ts.sys.readFile)
  const parsed = ts.parseJsonConfigFileContent(config.config, ts.sys, repoRoot)
  // A snippet may define what it shows without using it.
  return { ...parsed.options, noEmit: true, noUnusedLocals: false, noUnusedParameters: false }
}

describe("README", () => {
  it("has the two commands first, then Install, then Use", () => {
    const first = all[0]!
    assert.strictEqual(first.lang, "sh")
    assert.match(first.code, /^npm ci && npm run demo\b.*\nnpm ci && npm test\b/)
    const headings = readme.split("\n").filter((l) => l.startsWith("## "))
    assert.deepStrictEqual(headings.slice(0, 2), ["## Install", "## Use"])
  })

  it("every ts block compiles as a module of its own", () => {
    const snippets = all.filter((b) => b.lang === "ts")
    assert.isAtLeast(snippets.length, 6)
    // Virtual files inside the repository, so that `effect-aws-credentials` resolves as it does
    // for the examples (to the sources, through the package's "exports").
    const files = new Map(snippets.map((b, i) => [path.join(repoRoot, "test", `readme-snippet-${i}.ts`), b]))
    const options = compilerOptions()
    const host = ts.createCompilerHost(options)
    const { fileExists, readFile, getSourceFile } = host
    host.fileExists = (name) => files.has(name) || fileExists.call(host, name)
    host.readFile = (name) => files.get(name)?.code ?? readFile.call(host, name)
    host.getSourceFile = (name, version, onError, create) => {
      const block = files.get(name)
      return block === undefined
        ? getSourceFile.call(host, name, version, onError, create)
        : ts.createSourceFile(name, block.code, version, true)
    }
    const program = ts.createProgram([...files.keys()], options, host)
    const problems = ts.getPreEmitDiagnostics(program).map((d) => {
      const block = d.file === undefined ? undefined : files.get(d.file.fileName)
      const where = d.file === undefined || d.start === undefined
        ? "(global)"
        : block === undefined
        ? d.file.fileName
        : `README.md:${block.line + d.file.getLineAndCharacterOfPosition(d.start).line}`
      return `${where}: ${ts.flattenDiagnosticMessageText(d.messageText, "\n")}`
    })
    assert.deepStrictEqual(problems, [])
    console.log(`README: ${snippets.length} ts blocks compiled`)
  }, 120_000)

  it("every json block parses", () => {
    const json = all.filter((b) => b.lang === "json")
    assert.isAtLeast(json.length, 1)
    for (const block of json) {
      assert.doesNotThrow(() => JSON.parse(block.code), undefined, `README.md:${block.line}`)
    }
  })
})
