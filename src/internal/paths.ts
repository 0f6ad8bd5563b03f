/**
 * File paths as the sources use them: `~` expansion and trailing separators, the one place for both.
 */
/** Removes trailing separators, so that joining "/" with ".aws" gives "/.aws" and not "//.aws". */
export const withoutTrailingSeparators = (dir: string, windows = false): string => {
  let end = dir.length
  while (end > 0 && (dir[end - 1] === "/" || (windows && dir[end - 1] === "\\"))) end--
  return dir.slice(0, end)
}

/**
 * `~` expansion as Python's `os.path.expanduser` does it for the current user: a bare `~`, or a
 * leading `~/` (on Windows also `~\\`), becomes the home directory; `~user/...` is left as it is.
 */
export const expandHome = (path: string, home: string | undefined, windows = false): string => {
  if (home === undefined || !path.startsWith("~")) return path
  const rest = path.slice(1)
  if (rest === "") return home
  if (rest.startsWith("/") || (windows && rest.startsWith("\\"))) return `${withoutTrailingSeparators(home, windows)}${rest}`
  return path
}
