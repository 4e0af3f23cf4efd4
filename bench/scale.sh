#!/usr/bin/env bash
# Scale benchmark: N test hosts (default 12), bench/scale.yml applied, then no-op runs with
# all hosts in parallel and one at a time. As root. Prints wall times; tears the hosts down.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-12}
P="node bin/provision.js"
t() { local s; s=$(date +%s.%N); "$@" >/dev/null 2>&1 || { echo "failed: $*" >&2; exit 1; }; awk -v a="$s" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f\n", b - a }'; }
$P testbed down -q >/dev/null 2>&1 || true
echo "testbed up, $N hosts:        $(t $P testbed up -q --hosts "$N") s"
echo "first apply ($N hosts):       $(t $P bench/scale.yml --inventory testbed) s"
echo "no-op run, --forks $N:        $(t $P bench/scale.yml --inventory testbed --forks "$N") s"
echo "no-op run, --forks 1:         $(t $P bench/scale.yml --inventory testbed --forks 1) s"
echo "--check on converged hosts:   $(t $P bench/scale.yml --inventory testbed --check) s"
out=$($P bench/scale.yml --inventory testbed --json 2>/dev/null)
echo "tasks per no-op run: $(echo "$out" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const r=JSON.parse(s);const c=r.tasks.filter(t=>t.status==="changed").length;console.log(r.tasks.length+" (changed: "+c+")")})')"
[ "${KEEP:-0}" = 1 ] || $P testbed down -q
