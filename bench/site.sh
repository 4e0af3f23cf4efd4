#!/usr/bin/env bash
# Site benchmark: the whole site (playbooks/site.yml) on fresh test hosts (3 by default), then
# ROUNDS (default 5) rounds of: a no-op run, a no-op --check, the verification alone
# (playbooks/verify.yml). Prints each and the medians, with the controller's CPU time (user+sys)
# and peak RSS. BASELINE=path/to/other/checkout/bin/provision.js adds that build's no-op and
# --check of its own playbooks to every round (e.g. main before a change; its .provision/secrets
# is linked to this checkout's, so both runs use the same generated passwords). As root; takes the testbed lock itself and brings
# the testbed down at the end. Wall times are noisy on a shared machine.
# Each no-op round also counts the processes started on each host (its pid namespace's last pid)
# and the commands (round trips) per host; SHELLS=1 adds a no-op on persistent shells.
# Targets of issue 8: no-op <= 1.5 s, --check on converged hosts <= 1.5 s.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
if [ "${SITE_LOCKED:-}" != 1 ]; then
  exec env SITE_LOCKED=1 flock /tmp/provision-testbed.lock bash "$0" "$@"
fi
ROUNDS=${ROUNDS:-5}
HOSTS=${HOSTS:-3}
P=(node "$ROOT/bin/provision.js")
export CI=1
TMP=$(mktemp -d /tmp/provision-site.XXXXXX)
cleanup() {
  "${P[@]}" testbed down -q >/dev/null 2>&1 || true
  rm -rf "$TMP"
}
trap cleanup EXIT
# T = wall seconds of a command, run in this shell (a failure ends the benchmark)
t() {
  local s
  s=$(date +%s.%N)
  /usr/bin/time -f '%U %S %M' -o "$TMP/rusage" "$@" >"$TMP/out" 2>&1 || { echo "failed: $*" >&2; tail -30 "$TMP/out" >&2; exit 1; }
  T=$(awk -v a="$s" -v b="$(date +%s.%N)" 'BEGIN { printf "%.3f", b - a }')
}
cpu() { awk '{ printf "%.2f", $1 + $2 }' "$TMP/rusage"; }
rss() { awk '{ printf "%.0f", $3 / 1024 }' "$TMP/rusage"; }
noop() { grep -q 'no changes: every host is converged' "$TMP/out" || { echo "not a no-op:" >&2; grep -A3 -E 'changed  |would change|unknown  |FAILED' "$TMP/out" | head -40 >&2; exit 1; }; }
# processes started on each test host: the last pid of its pid namespace (read by nsenter,
# which itself starts one process there, subtracted). The .pid file holds the host's restart
# supervisor (sh), whose child is systemd-nspawn, both in the machine's pid namespace: the host's
# init is the first descendant in a namespace of its own (bench/floor.sh; before this, the count
# was the machine's, every process started anywhere during the run).
lastpids() {
  local f p i
  for f in /var/lib/provision/testbed/*.pid; do
    p=$(cat "$f")
    for i in 1 2 3 4; do
      [ "$(readlink "/proc/$p/ns/pid")" != "$(readlink /proc/self/ns/pid)" ] && break
      p=$(pgrep -P "$p" | head -1)
    done
    [ "$(readlink "/proc/$p/ns/pid")" != "$(readlink /proc/self/ns/pid)" ] || { echo "$(basename "$f" .pid): no process in a pid namespace of its own" >&2; exit 1; }
    echo "$(basename "$f" .pid) $(nsenter -t "$p" -p -m cat /proc/sys/kernel/ns_last_pid)"
  done
}
procs() { join <(sort "$1") <(sort "$2") | awk '{ printf "%s%s %d", (NR > 1 ? ", " : ""), $1, $3 - $2 - 1 }'; }
median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else printf "%.3f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

if [ -n "${BASELINE:-}" ]; then
  BROOT=$(cd "$(dirname "$BASELINE")/.." && pwd)
  mkdir -p "$ROOT/.provision/secrets" "$BROOT/.provision"
  if [ -L "$BROOT/.provision/secrets" ] || [ ! -e "$BROOT/.provision/secrets" ]; then
    ln -sfn "$ROOT/.provision/secrets" "$BROOT/.provision/secrets"
  elif [ "$(cd "$BROOT/.provision/secrets" && pwd -P)" != "$(cd "$ROOT/.provision/secrets" && pwd -P)" ]; then
    echo "$BROOT/.provision/secrets is a directory of its own: the baseline would use other passwords (move it away)" >&2
    exit 2
  fi
fi
echo "bench/site.sh: $HOSTS hosts, node $(node --version), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
"${P[@]}" testbed down -q >/dev/null 2>&1 || true
t "${P[@]}" testbed up -q --hosts "$HOSTS"
echo "testbed up:                     $T s"
t "${P[@]}" -i testbed
echo "first run of the site (fresh):  $T s (cpu $(cpu) s)"
declare -a nw nc ck ckc vf bn bc sw
for r in $(seq 1 "$ROUNDS"); do
  lastpids >"$TMP/pids0"; rm -f "$TMP/stats"
  PROVISION_SSH_STATS=$TMP/stats t "${P[@]}" -i testbed; noop; nw+=("$T"); nc+=("$(cpu)"); line="no-op $T s (cpu $(cpu) s, rss $(rss) MiB)"
  lastpids >"$TMP/pids1"
  echo "  round $r no-op: processes started per host: $(procs "$TMP/pids0" "$TMP/pids1"); commands (round trips) per host: $(awk '{ printf "%s%s %s", (NR > 1 ? ", " : ""), $2, $3 }' "$TMP/stats")" >>"$TMP/counts"
  if [ "${SHELLS:-}" = 1 ]; then
    lastpids >"$TMP/pids0"; rm -f "$TMP/stats"
    PROVISION_SSH_SHELL=1 PROVISION_SSH_STATS=$TMP/stats t "${P[@]}" -i testbed; noop; sw+=("$T"); line="$line, on shells $T s (cpu $(cpu) s)"
    lastpids >"$TMP/pids1"
    echo "  round $r no-op on persistent shells: processes started per host: $(procs "$TMP/pids0" "$TMP/pids1"); commands per host: $(awk '{ printf "%s%s %s", (NR > 1 ? ", " : ""), $2, $3 }' "$TMP/stats")" >>"$TMP/counts"
  fi
  t "${P[@]}" -i testbed --check; noop; ck+=("$T"); ckc+=("$(cpu)"); line="$line, --check $T s (cpu $(cpu) s)"
  t "${P[@]}" -i testbed verify; vf+=("$T"); line="$line, verify $T s"
  if [ -n "${BASELINE:-}" ]; then
    t node "$BASELINE" -i "$ROOT/inventory/testbed.yml" "$BROOT/playbooks/site.yml"; noop; bn+=("$T"); line="$line | baseline no-op $T s (cpu $(cpu) s)"
    t node "$BASELINE" -i "$ROOT/inventory/testbed.yml" "$BROOT/playbooks/site.yml" --check; noop; bc+=("$T"); line="$line, --check $T s"
  fi
  echo "round $r: $line"
done
echo
cat "$TMP/counts"
"${P[@]}" --list-hosts -i testbed >"$TMP/plays" 2>&1 || true
echo "plays per host: $(awk '/^  play #/ { p = 1; next } p && /^      / { n[$1]++ } END { for (h in n) printf "%s %d  ", h, n[h] }' "$TMP/plays")"
echo "medians of $ROUNDS rounds ($HOSTS hosts, converged):"
echo "  site no-op:         $(median "${nw[@]}") s (cpu $(median "${nc[@]}") s)   target <= 1.5 s"
echo "  site --check:       $(median "${ck[@]}") s (cpu $(median "${ckc[@]}") s)   target <= 1.5 s"
[ "${SHELLS:-}" = 1 ] && echo "  no-op on persistent shells (PROVISION_SSH_SHELL=1): $(median "${sw[@]}") s"
echo "  verify alone:       $(median "${vf[@]}") s"
if [ -n "${BASELINE:-}" ]; then
  echo "  baseline no-op:     $(median "${bn[@]}") s; --check $(median "${bc[@]}") s ($BASELINE)"
fi
