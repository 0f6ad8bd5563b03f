/**
 * Runs the command line on a pseudo-terminal with util-linux's `script` (in Debian's essential
 * `bsdutils`, so on every machine of ours and CI's), for what only a terminal shows: styled
 * help, the progress line on stderr.
 */
import { execFile } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { repoRoot } from "./fixtures.js"

export interface TerminalResult {
  readonly status: number
  /** What the terminal showed (stderr, and stdout unless `stdoutToFile`). */
  readonly terminal: string
  /** stdout, when it went to a file instead of the terminal. */
  readonly stdout: string | undefined
}

const quote = (word: string) => `'${word.replace(/'/g, `'\\''`)}'`

/**
 * `src/bin.ts args` with stdin, stdout and stderr on a terminal of `columns` columns; with
 * `stdoutToFile`, stdout goes to a file instead (so stderr alone is on the terminal).
 */
export const runOnTerminal = (
  args: ReadonlyArray<string>,
  env: Record<string, string>,
  options: { readonly stdoutToFile?: boolean; readonly columns?: number } = {}
): Promise<TerminalResult> => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "eac-tty-"))
  const stdoutFile = path.join(dir, "stdout")
  const tsx = path.join(repoRoot, "node_modules", ".bin", "tsx")
  const command = [
    `stty cols ${options.columns ?? 100}`,
    `${[tsx, "--conditions=effect-aws-credentials-source", path.join(repoRoot, "src/bin.ts"), ...args].map(quote).join(" ")}${
      options.stdoutToFile === true ? ` > ${quote(stdoutFile)}` : ""
    }`
  ].join("; ")
  return new Promise((resolve) => {
    execFile(
      "script",
      // -e: script exits with the command's status.
      ["-q", "-e", "-c", command, "/dev/null"],
      {
        env: {
          PATH: process.env.PATH,
          TERM: "xterm",
          AWS_EC2_METADATA_DISABLED: "true",
          AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
          ...env
        },
        encoding: "utf8",
        timeout: 60_000
      },
      (error, terminal) => {
        const stdout = options.stdoutToFile === true && fs.existsSync(stdoutFile)
          ? fs.readFileSync(stdoutFile, "utf8")
          : undefined
        fs.rmSync(dir, { recursive: true, force: true })
        resolve({ status: error === null ? 0 : typeof error.code === "number" ? error.code : -1, terminal, stdout })
      }
    ).stdin?.end()
  })
}
