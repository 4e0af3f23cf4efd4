#!/usr/bin/env bash
# Scale benchmark: N test hosts (default 12), bench/scale.yml applied, then no-op runs with
# all hosts in parallel and one at a time. As root; takes the testbed lock itself
# (/tmp/provision-testbed.lock) and tears the hosts down at the end (KEEP=1 keeps them).
# Prints wall times, and the controller's CPU time and peak RSS of the parallel no-op run
# (targets of issue 8 for 30 hosts: no-op <= 2 s, peak RSS <= 150 MiB).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${SCALE_LOCKED:-}" != 1 ]; then
  exec env SCALE_LOCKED=1 flock /tmp/provision-testbed.lock bash "$0" "$@"
fi
N=${1:-12}
P="node bin/provision.js"
export CI=1
RUSAGE=$(mktemp /tmp/provision-scale.XXXXXX)
cleanup() {
  [ "${KEEP:-0}" = 1 ] || $P testbed down -q >/dev/null 2>&1 || true
  rm -f "$RUSAGE"
}
trap cleanup EXIT
# T = wall seconds of a command, run in this shell (a failure ends the benchmark)
t() {
  local s
  s=$(date +%s.%N)
  /usr/bin/time -f '%U %S %M' -o "$RUSAGE" "$@" >/dev/null 2>&1 || { echo "failed: $*" >&2; exit 1; }
  T=$(awk -v a="$s" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
}
usage() { awk '{ printf "cpu %.2f s, peak RSS %.0f MiB", $1 + $2, $3 / 1024 }' "$RUSAGE"; }
. bench/build.sh
bench_build provision bin/provision.js
echo "bench/scale.sh $N: node $(node --version), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
$P testbed down -q >/dev/null 2>&1 || true
t $P testbed up -q --hosts "$N"
echo "testbed up, $N hosts:         $T s"
t $P bench/scale.yml --inventory testbed --forks "$N"
echo "first apply ($N hosts):        $T s"
for i in 1 2 3; do
  t $P bench/scale.yml --inventory testbed --forks "$N"
  echo "no-op run, --forks $N:         $T s ($(usage))"
done
t $P bench/scale.yml --inventory testbed --forks 1
echo "no-op run, --forks 1:          $T s"
t $P bench/scale.yml --inventory testbed --check --forks "$N"
echo "--check on converged hosts:    $T s ($(usage))"
out=$($P bench/scale.yml --inventory testbed --forks "$N" --json 2>/dev/null)
echo "tasks per no-op run: $(echo "$out" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const r=JSON.parse(s);const c=r.tasks.filter(t=>t.status==="changed").length;console.log(r.tasks.length+" (changed: "+c+")")})')"
