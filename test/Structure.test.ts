/**
 * The shape of `src/` (issue 11), checked with dependency-cruiser on every `npm test`:
 * - no import cycle, type-only imports included (a circle to a reader is a circle);
 * - an internal module never imports a value from a public module of the same area back (the
 *   error classes and defaults live where both can import them);
 * - core modules (everything at the top of `src/` but the chain's assembly and the barrel) do
 *   not depend on a source in `providers/`;
 * - no function is longer than 150 lines (read with the TypeScript compiler's parser).
 *
 * There are no exceptions: a new cycle or a long function fails `npm test`.
 */
import { assert, describe, it } from "@effect/vitest"
import { cruise, type ICruiseResult, type IViolation } from "dependency-cruiser"
import * as fs from "node:fs"
import * as path from "node:path"
import ts from "typescript"

const root = path.resolve(import.meta.dirname, "..")

const maxFunctionLines = 150

/** The name of the declaration a function belongs to: its own, or its nearest named ancestor's. */
const nameOf = (node: ts.Node): string => {
  for (let current: ts.Node | undefined = node; current !== undefined; current = current.parent) {
    if (
      (ts.isVariableDeclaration(current) || ts.isFunctionDeclaration(current) || ts.isMethodDeclaration(current) ||
        ts.isPropertyAssignment(current)) && current.name !== undefined
    ) {
      return current.name.getText()
    }
  }
  return "(anonymous)"
}

/** Every function body in `src/` over the bound, as `file#name` with its length. */
const longFunctions = (): Array<{ readonly at: string; readonly lines: number }> => {
  const found = new Map<string, number>()
  const visitFile = (file: string) => {
    const source = ts.createSourceFile(file, fs.readFileSync(path.join(root, file), "utf8"), ts.ScriptTarget.Latest, true)
    const visit = (node: ts.Node): void => {
      if (ts.isFunctionLike(node) && "body" in node && node.body !== undefined) {
        const start = source.getLineAndCharacterOfPosition(node.getStart(source)).line
        const end = source.getLineAndCharacterOfPosition(node.getEnd()).line
        const lines = end - start + 1
        const at = `${file}#${nameOf(node)}`
        if (lines > maxFunctionLines && lines > (found.get(at) ?? 0)) found.set(at, lines)
      }
      ts.forEachChild(node, visit)
    }
    visit(source)
  }
  const walk = (dir: string): void => {
    for (const entry of fs.readdirSync(path.join(root, dir), { withFileTypes: true })) {
      const relative = `${dir}/${entry.name}`
      if (entry.isDirectory()) walk(relative)
      else if (entry.name.endsWith(".ts")) visitFile(relative)
    }
  }
  walk("src")
  return [...found].map(([at, lines]) => ({ at, lines }))
}

const ruleSet = {
  forbidden: [
    { name: "no-cycle", severity: "error", from: { path: "^src/" }, to: { circular: true } },
    {
      name: "core-not-on-sources",
      severity: "error",
      from: { path: "^src/[^/]+\\.ts$", pathNot: "^src/(index|CredentialChain)\\.ts$" },
      to: { path: "^src/providers/" }
    }
  ]
} as const

const run = async (): Promise<ICruiseResult> => {
  const reported = await cruise(["src"], {
    baseDir: root,
    validate: true,
    ruleSet: ruleSet as never,
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    doNotFollow: { path: "node_modules" },
    enhancedResolveOptions: { extensionAlias: { ".js": [".ts", ".js"] } } as never
  })
  return reported.output as ICruiseResult
}

/** The files of a cycle violation, sorted, so that where it is entered does not matter. */
const cycleOf = (violation: IViolation): ReadonlyArray<string> =>
  [...new Set([violation.from, ...(violation.cycle ?? []).map((step) => step.name)])].sort()

describe("the structure of src/", () => {
  it("no import cycle; core modules do not depend on sources", async () => {
    const result = await run()
    assert.isAbove(result.modules.filter((m) => m.source.startsWith("src/")).length, 40, "the cruise saw the sources")
    const resolvedJs = result.modules.flatMap((m) => m.dependencies).filter((d) => d.resolved.startsWith("src/"))
    assert.isAbove(resolvedJs.length, 100, "relative .js imports resolve to the .ts files")
    const violations = result.summary.violations
    const cycles = new Set(violations.filter((v) => v.rule.name === "no-cycle").map((v) => cycleOf(v).join(" -> ")))
    assert.deepStrictEqual([...cycles], [])
    assert.deepStrictEqual(
      violations.filter((v) => v.rule.name !== "no-cycle").map((v) => `${v.rule.name}: ${v.from} -> ${v.to}`),
      []
    )
  }, 120_000)

  it(`no function over ${maxFunctionLines} lines`, () => {
    assert.deepStrictEqual(longFunctions().map((f) => `${f.at} (${f.lines} lines)`), [])
  })
})
