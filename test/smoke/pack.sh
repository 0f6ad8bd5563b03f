#!/usr/bin/env bash
# The tarball smoke test, as a user meets the package: `npm pack` alone (no build first: the
# package's prepack builds it), then the tarball installed into applications that pin their own
# Effect at other versions of the admitted peer ranges (other patch versions, the lowest, the
# highest published), each checked by consumer.mjs: one copy of effect and @effect/platform, no
# command-line stack, a typecheck with declarations, a run, require, the installed command line.
# Then the tree-shaking promise: a bundle importing one source from the root is within 10 % of
# the same program importing it by subpath.
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
here="$repo/test/smoke"
work="$(mktemp -d -t eac-pack-XXXXXX)"
trap 'rm -rf "$work"' EXIT
export npm_config_audit=false npm_config_fund=false npm_config_loglevel=error

cd "$repo"
rm -rf dist
tarball="$work/$(npm pack --silent --pack-destination "$work" | tail -n 1)"
echo "== packed $(basename "$tarball") ($(du -k "$tarball" | cut -f1) KiB) with nothing built beforehand"

# What the tarball holds: the build, the docs, the license; no tests.
tar -tzf "$tarball" | sed 's#^package/##' > "$work/contents"
for required in package.json README.md LICENSE CHANGELOG.md dist/index.js dist/index.d.ts dist/bin.js \
  dist/providers/EnvCredentials.js dist/providers/EnvCredentials.d.ts dist/sdk.js dist/sdk.d.ts; do
  grep -qx "$required" "$work/contents" || { echo "the tarball lacks $required" >&2; exit 1; }
done
if grep -E '(^|/)test/|\.test\.(ts|js)$|\.tgz$|^scratch/' "$work/contents"; then
  echo "the tarball holds tests or scratch files" >&2
  exit 1
fi
echo "  ok: $(wc -l < "$work/contents") files: dist/, src/, README.md, LICENSE, CHANGELOG.md; no tests"

typescript="typescript@$(node -p "require('$repo/node_modules/typescript/package.json').version")"
types="@types/node@$(node -p "require('$repo/node_modules/@types/node/package.json').version")"

# The released versions of a range, oldest first (the registry lists them in no set order).
versions() { npm view "$1@$2" version --json | node -e '
  const v = JSON.parse(require("fs").readFileSync(0, "utf8"))
  const key = (s) => s.split(".").map(Number)
  const released = (Array.isArray(v) ? v : [v]).filter((s) => /^\d+\.\d+\.\d+$/.test(s))
  released.sort((a, b) => { const [x, y] = [key(a), key(b)]; return x[0] - y[0] || x[1] - y[1] || x[2] - y[2] })
  console.log(released.join(" "))'; }
peer() { node -p "require('$repo/package.json').peerDependencies['$1']"; }
lowest() { versions "$1" "$2" | awk '{print $1}'; }
highest() { versions "$1" "$2" | awk '{print $NF}'; }

# consumer NAME effect platform platform-node [other exact pins of the Effect family...]
consumer() {
  local name="$1" effect="$2" platform="$3" node="$4"
  shift 4
  echo "== app '$name': effect@$effect @effect/platform@$platform @effect/platform-node@$node $*"
  local app="$work/app-$name"
  mkdir -p "$app"
  echo '{ "name": "eac-smoke-app", "version": "1.0.0", "private": true, "type": "module" }' > "$app/package.json"
  (cd "$app" && npm install --save-exact "effect@$effect" "@effect/platform@$platform" "@effect/platform-node@$node" \
    "$@" "$typescript" "$types" >/dev/null)
  (cd "$app" && npm install "$tarball" >/dev/null)
  node "$here/consumer.mjs" "$app" \
    "{\"effect\":\"$effect\",\"@effect/platform\":\"$platform\",\"@effect/platform-node\":\"$node\"}"
}

# Other patch versions than the ones this repository is developed with.
consumer patches 3.22.3 0.97.1 0.108.1

# The lowest admitted versions. @effect/platform-node's own peers (cluster, rpc, sql, ...) are
# pinned at their lowest too: npm would otherwise pick their newest, which want a newer platform.
low_effect="$(lowest effect "$(peer effect)")"
low_platform="$(lowest @effect/platform "$(peer @effect/platform)")"
low_node="$(lowest @effect/platform-node "$(peer @effect/platform-node)")"
family=()
for dependency in $(npm view "@effect/platform-node@$low_node" peerDependencies --json | node -e '
  const p = JSON.parse(require("fs").readFileSync(0, "utf8"))
  console.log(Object.entries(p).filter(([n]) => !["effect", "@effect/platform"].includes(n)).map(([n, r]) => n + "@" + r).join(" "))'); do
  family+=("${dependency%@*}@$(lowest "${dependency%@*}" "${dependency##*@}")")
done
for dependency in "${family[@]}"; do
  for transitive in $(npm view "$dependency" peerDependencies --json | node -e '
    const p = JSON.parse(require("fs").readFileSync(0, "utf8") || "{}")
    console.log(Object.entries(p).filter(([n]) => n.startsWith("@effect/")).map(([n, r]) => n + "@" + r).join(" "))'); do
    n="${transitive%@*}"
    case " ${family[*]} @effect/platform @effect/platform-node " in *" $n@"*|*" $n "*) continue ;; esac
    family+=("$n@$(lowest "$n" "${transitive##*@}")")
  done
done
consumer lowest "$low_effect" "$low_platform" "$low_node" "${family[@]}"

# The newest published versions the ranges admit.
consumer highest "$(highest effect "$(peer effect)")" "$(highest @effect/platform "$(peer @effect/platform)")" \
  "$(highest @effect/platform-node "$(peer @effect/platform-node)")"

echo "== tree-shaking: one source from the root vs by subpath (esbuild --bundle --minify)"
app="$work/app-patches"
cat > "$app/root.mjs" <<'JS'
import { Effect } from "effect"
import { AwsCredentials, EnvCredentials } from "effect-aws-credentials"
const program = Effect.flatMap(AwsCredentials.AwsCredentials, (service) => service.get)
Effect.runPromise(program.pipe(Effect.provide(EnvCredentials.layer))).then((c) => console.log(c.source))
JS
cat > "$app/subpath.mjs" <<'JS'
import { Effect } from "effect"
import * as AwsCredentials from "effect-aws-credentials/AwsCredentials"
import * as EnvCredentials from "effect-aws-credentials/providers/EnvCredentials"
const program = Effect.flatMap(AwsCredentials.AwsCredentials, (service) => service.get)
Effect.runPromise(program.pipe(Effect.provide(EnvCredentials.layer))).then((c) => console.log(c.source))
JS
for entry in root subpath; do
  "$repo/node_modules/.bin/esbuild" "$app/$entry.mjs" --bundle --minify --format=esm --platform=node \
    --outfile="$app/$entry.bundle.mjs" --log-level=warning
  out="$(cd "$app" && AWS_ACCESS_KEY_ID=AKIASMOKETEST0000001 AWS_SECRET_ACCESS_KEY=secret AWS_EC2_METADATA_DISABLED=true node "$entry.bundle.mjs")"
  test "$out" = "env" || { echo "the $entry bundle printed '$out'" >&2; exit 1; }
done
root_bytes="$(wc -c < "$app/root.bundle.mjs")"
subpath_bytes="$(wc -c < "$app/subpath.bundle.mjs")"
echo "  root import: $root_bytes bytes, subpath imports: $subpath_bytes bytes (both run)"
node -e "process.exit($root_bytes <= $subpath_bytes * 1.1 ? 0 : 1)" ||
  { echo "the root import is more than 10 % larger than the subpath imports" >&2; exit 1; }
echo "tarball smoke test: ok"
