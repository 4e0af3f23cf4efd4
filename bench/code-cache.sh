#!/usr/bin/env bash
# Interleaved A/B of the start-up with and without V8's code cache (bench/README.md, "Issue 21:
# code cache"): BASELINE's bin/provision.js (a copy of main's build: cp -a dist bin package.json)
# against this checkout's, ROUNDS (7) rounds alternating, medians of wall, CPU (user+sys) and peak
# RSS from /usr/bin/time; the load average before and after.
#   `node -e 0`, `--version`, `--syntax-check bench/scale.yml`, and (HOSTS=1, needs the converged
#   private testbed in inventory/testbed.yml) the no-op of bench/scale.yml with --forks 3.
#   VERSION20=1: only `node -e 0` and `--version`, each 20 times in a row per measurement.
#   NOCACHE=1 adds this checkout with PROVISION_NO_CODE_CACHE=1 (same build, plain bundle).
set -euo pipefail
cd "$(dirname "$0")/.."
BASELINE=${BASELINE:-/tmp/base-startup}
ROUNDS=${ROUNDS:-7}
source bench/build.sh
bench_build base "$BASELINE/bin/provision.js"
bench_build new bin/provision.js
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
variants=(base new)
[ -n "${NOCACHE:-}" ] && variants+=(nocache)
cmds=(node0 version syntax)
# VERSION20=1: 20 runs of each in a row (/usr/bin/time counts in 10 ms: finer per run)
[ -n "${VERSION20:-}" ] && cmds=(node0x20 version20)
[ -n "${HOSTS:-}" ] && cmds+=(noop)
echo "node $(node --version), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $ROUNDS rounds"
run() { # variant cmd
  local v=$1 c=$2 bin env=()
  case $v in base) bin=$BASELINE/bin/provision.js ;; new) bin=bin/provision.js ;; nocache) bin=bin/provision.js env=(PROVISION_NO_CODE_CACHE=1) ;; esac
  case $c in
    node0) [ "$v" = base ] || return 0; set -- node -e 0 ;;
    version) set -- node "$bin" --version ;;
    version20) set -- sh -c 'for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do node "$0" --version; done' "$bin" ;;
    node0x20) [ "$v" = base ] || return 0; set -- sh -c 'for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do node -e 0; done' ;;
    syntax) set -- node "$bin" --syntax-check bench/scale.yml ;;
    noop) set -- node "$bin" --inventory testbed --forks 3 bench/scale.yml ;;
  esac
  local t wall user sys rss
  env "${env[@]}" CI=1 /usr/bin/time -o "$out/t" -f '%e %U %S %M' "$@" >/dev/null 2>"$out/err" || { echo "failed: $v $c" >&2; cat "$out/err" >&2; }
  t=$(tail -1 "$out/t")
  read -r wall user sys rss <<<"$t"
  echo "$wall $(awk -v u="$user" -v s="$sys" 'BEGIN {print u + s}') $rss" >>"$out/$c.$v"
}
for r in $(seq 1 "$ROUNDS"); do
  for c in "${cmds[@]}"; do
    # alternate which variant goes first
    if [ $((r % 2)) = 1 ]; then order=("${variants[@]}"); else order=($(printf '%s\n' "${variants[@]}" | tac)); fi
    for v in "${order[@]}"; do run "$v" "$c"; done
  done
  echo "round $r done, load $(cut -d' ' -f1-3 /proc/loadavg)"
done
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
printf '%-8s %-8s %9s %9s %10s\n' cmd build wall_s cpu_s rss_MiB
for c in "${cmds[@]}"; do
  for v in "${variants[@]}"; do
    f=$out/$c.$v
    [ -f "$f" ] || continue
    printf '%-8s %-8s %9.3f %9.3f %10.1f\n' "$c" "$v" "$(cut -d' ' -f1 "$f" | median)" "$(cut -d' ' -f2 "$f" | median)" "$(cut -d' ' -f3 "$f" | median | awk '{print $1/1024}')"
  done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
