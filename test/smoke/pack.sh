#!/usr/bin/env bash
# The tarball smoke test: pack the library, install the tarball into a fresh project, import it,
# typecheck against it, run a program with it and run its command line.
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
work="$(mktemp -d -t eac-pack-XXXXXX)"
trap 'rm -rf "$work"' EXIT

cd "$repo"
npm run build >/dev/null
tarball="$(npm pack --silent --pack-destination "$work" | tail -n 1)"
echo "packed $tarball"

cd "$work"
mkdir app && cd app
cat > package.json <<'JSON'
{ "name": "eac-smoke", "version": "1.0.0", "private": true, "type": "module" }
JSON
typescript_version="$(node -p "require('$repo/node_modules/typescript/package.json').version")"
types_version="$(node -p "require('$repo/node_modules/@types/node/package.json').version")"
npm install --no-audit --no-fund --loglevel=error "$work/$tarball" "typescript@$typescript_version" "@types/node@$types_version" >/dev/null

cat > main.ts <<'TS'
import { Effect } from "effect"
import { AwsCredentials, CredentialChain } from "effect-aws-credentials"

const program = Effect.gen(function*() {
  const credentials = yield* AwsCredentials.AwsCredentials
  const current = yield* credentials.get
  console.log(JSON.stringify({ source: current.source, accessKeyId: current.accessKeyId, printed: String(current) }))
})

Effect.runPromise(program.pipe(Effect.provide(CredentialChain.layerNode())))
TS
cat > tsconfig.json <<'JSON'
{ "compilerOptions": { "target": "ES2022", "module": "NodeNext", "moduleResolution": "NodeNext", "strict": true,
  "exactOptionalPropertyTypes": true, "types": ["node"], "outDir": "out", "skipLibCheck": false } }
JSON
npx tsc -p tsconfig.json
echo "typecheck against the tarball: ok"

export HOME="$work/home"
mkdir -p "$HOME"
export AWS_EC2_METADATA_DISABLED=true
secret="smokeSecretKeyThatMustNeverBePrinted0042"
out="$(AWS_ACCESS_KEY_ID=AKIASMOKETEST0000001 AWS_SECRET_ACCESS_KEY="$secret" node out/main.js)"
echo "program: $out"
echo "$out" | grep -q '"source":"env"'
echo "$out" | grep -q 'AKIASMOKETEST0000001'
if echo "$out" | grep -q "$secret"; then echo "secret leaked by the program" >&2; exit 1; fi

set +e
json="$(AWS_ACCESS_KEY_ID=AKIASMOKETEST0000001 AWS_SECRET_ACCESS_KEY="$secret" npx --no-install effect-aws-credentials explain --json 2>"$work/stderr")"
status=$?
set -e
echo "explain --json exit status: $status"
test "$status" -eq 0
node -e '
const report = JSON.parse(process.argv[1])
if (report.ok !== true || report.credentials.source !== "env" || report.credentials.accessKeyId !== "AKIASMOKETEST0000001") {
  console.error("unexpected report", report); process.exit(1)
}
if (report.credentials.secretAccessKey !== "****************0042") { console.error("bad mask"); process.exit(1) }
' "$json"
if grep -q "$secret" <<<"$json" || grep -q "$secret" "$work/stderr"; then echo "secret leaked by explain" >&2; exit 1; fi

set +e
npx --no-install effect-aws-credentials explain --json >/dev/null 2>&1
status=$?
set -e
echo "explain --json without credentials exit status: $status"
test "$status" -eq 1
echo "tarball smoke test: ok"
