# Sourced by the bench scripts: say which build of provision a benchmark runs, and refuse a stale
# bundle. bin/provision.js runs dist/bundle only when it is newer than tsc's dist/src; a bundle
# older than dist/src means a run measures the unbundled path (~300 files loaded, slower start),
# which is not what users run. Rebuild with `npx tsc -p tsconfig.json && node scripts/bundle.mjs`.
#   bench_build LABEL BIN   (BIN: path to a bin/provision.js)
bench_build() {
  local label=$1 bin=$2 dir b s
  dir=$(cd "$(dirname "$bin")/.." && pwd)
  b="$dir/dist/bundle/cli/main.js"
  s="$dir/dist/src/cli/main.js"
  if [ -n "${PROVISION_NO_BUNDLE:-}" ]; then
    echo "$label build: $dir, unbundled (PROVISION_NO_BUNDLE), dist/src of $(date -u -r "$s" +%FT%TZ)"
    return 0
  fi
  if [ ! -f "$b" ] || [ "$b" -ot "$s" ]; then
    echo "error: $label build in $dir: dist/bundle is missing or older than dist/src, so bin/provision.js would run the unbundled build; run 'npx tsc -p tsconfig.json && node scripts/bundle.mjs' there first" >&2
    return 1
  fi
  local commit=''
  if [ "$(git -C "$dir" rev-parse --show-toplevel 2>/dev/null)" = "$dir" ]; then
    commit=", commit $(git -C "$dir" rev-parse --short HEAD)"
    git -C "$dir" diff --quiet HEAD -- src scripts || commit="$commit (with uncommitted changes)"
  fi
  echo "$label build: $dir, bundle of $(date -u -r "$b" +%FT%TZ)$commit"
}
