#!/usr/bin/env bash
# Transport benchmark (issue 21): bench/scale.yml's no-op on N fresh test hosts (default 3),
# ROUNDS (default 5) interleaved rounds of: the no-op on persistent shells (the default), the
# no-op with a channel per command (PROVISION_SSH_SHELL=0) and the floor, N parallel
# `ssh host true`. Prints medians, the ratios to the floor, CPU and the commands per host
# (PROVISION_SSH_STATS). As root; takes the testbed lock itself and brings the testbed down.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${SHELLB_LOCKED:-}" != 1 ]; then
  exec env SHELLB_LOCKED=1 flock /tmp/provision-testbed.lock bash "$0" "$@"
fi
N=${1:-3}
ROUNDS=${ROUNDS:-5}
P="node bin/provision.js"
export CI=1
TMP=$(mktemp -d /tmp/provision-shellb.XXXXXX)
cleanup() {
  $P testbed down -q >/dev/null 2>&1 || true
  rm -rf "$TMP"
}
trap cleanup EXIT
t() {
  local s
  s=$(date +%s.%N)
  /usr/bin/time -f '%U %S %M' -o "$TMP/rusage" "$@" >"$TMP/out" 2>&1 || { echo "failed: $*" >&2; tail -20 "$TMP/out" >&2; exit 1; }
  T=$(awk -v a="$s" -v b="$(date +%s.%N)" 'BEGIN { printf "%.3f", b - a }')
}
cpu() { awk '{ printf "%.2f", $1 + $2 }' "$TMP/rusage"; }
rss() { awk '{ printf "%.0f", $3 / 1024 }' "$TMP/rusage"; }
median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else printf "%.3f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
noop() { grep -q 'no changes: every host is converged' "$TMP/out" || { echo "not a no-op" >&2; tail -20 "$TMP/out" >&2; exit 1; }; }
. bench/build.sh
bench_build provision bin/provision.js
echo "bench/shell.sh $N: node $(node --version), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
$P testbed down -q >/dev/null 2>&1 || true
t $P testbed up -q --hosts "$N"
echo "testbed up, $N hosts: $T s"
t $P bench/scale.yml --inventory testbed --forks "$N"
echo "first apply: $T s"
# the floor's ssh arguments and addresses, from the testbed's inventory (as bench/peers.sh)
eval "$(cd "$(pwd)" && node --input-type=module -e "
  const { loadInventory } = await import('$(pwd)/dist/src/load/inventory.js');
  const inv = loadInventory('testbed', '$(pwd)');
  const hs = [...inv.hosts.values()];
  const q = (s) => \"'\" + String(s).replace(/'/g, \"'\\\\''\") + \"'\";
  console.log('SSHO=(-i ' + q(hs[0].key) + ' -o UserKnownHostsFile=' + q(hs[0].knownHosts) + ' -o StrictHostKeyChecking=yes -o BatchMode=yes)');
  console.log('ADDRS=' + q([...new Set(hs.map((h) => h.user + '@' + h.address))].join(' ')));
")"
floor() { local pids=() a; for a in $ADDRS; do ssh "${SSHO[@]}" "$a" true & pids+=($!); done; for a in "${pids[@]}"; do wait "$a"; done; }
declare -a sw sc cw cc fw
for r in $(seq 1 "$ROUNDS"); do
  PROVISION_SSH_SHELL=1 PROVISION_SSH_STATS=$TMP/stats-shell t $P bench/scale.yml --inventory testbed --forks "$N"; noop; sw+=("$T"); sc+=("$(cpu)"); line="shell $T s (cpu $(cpu) s, rss $(rss) MiB)"
  PROVISION_SSH_SHELL=0 PROVISION_SSH_STATS=$TMP/stats-chan t $P bench/scale.yml --inventory testbed --forks "$N"; noop; cw+=("$T"); cc+=("$(cpu)"); line="$line, channels $T s (cpu $(cpu) s, rss $(rss) MiB)"
  s0=$(date +%s.%N); floor; T=$(awk -v a="$s0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.3f", b - a }'); fw+=("$T"); line="$line, $N x ssh host true $T s"
  echo "round $r: $line"
done
# a CPU profile of one no-op on shells (PROFILE=DIR)
if [ -n "${PROFILE:-}" ]; then
  mkdir -p "$PROFILE"
  node --cpu-prof --cpu-prof-dir="$PROFILE" bin/provision.js bench/scale.yml --inventory testbed --forks "$N" >/dev/null 2>&1 || true
fi
ms=$(median "${sw[@]}"); mc=$(median "${cw[@]}"); mf=$(median "${fw[@]}")
echo
echo "medians of $ROUNDS rounds ($N hosts, bench/scale.yml no-op, load now $(cut -d' ' -f1-3 /proc/loadavg)):"
echo "  persistent shells:     $ms s (cpu $(median "${sc[@]}") s)  ratio to floor $(awk -v a="$ms" -v b="$mf" 'BEGIN{printf "%.2f", a/b}')"
echo "  channel per command:   $mc s (cpu $(median "${cc[@]}") s)  ratio to floor $(awk -v a="$mc" -v b="$mf" 'BEGIN{printf "%.2f", a/b}')"
echo "  floor ($N x ssh true): $mf s"
echo "  commands per host and run (shell): $(awk '{ for (i=3;i<=6;i++) printf "%s ", $i; print "" }' "$TMP/stats-shell" | sort | uniq -c | head -3)"
echo "  commands per host and run (channels): $(awk '{ for (i=3;i<=6;i++) printf "%s ", $i; print "" }' "$TMP/stats-chan" | sort | uniq -c | head -3)"
