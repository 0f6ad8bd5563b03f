/** `~` expansion as Python's `os.path.expanduser` does it for the current user. */
export const expandHome = (path: string, home: string | undefined): string => {
  if (home === undefined) return path
  if (path === "~") return home
  if (path.startsWith("~/") || path.startsWith("~\\")) return `${home.replace(/[\\/]+$/, "")}${path.slice(1)}`
  return path
}
