#!/usr/bin/env bash
# What the floor allows (issue 21): for N hosts (arguments; default 3 10), ROUNDS (default 7)
# interleaved rounds (the order rotated each round) of
#   1. the floor: N parallel OpenSSH `ssh host true` (BatchMode, the testbed's key and known_hosts);
#   1k. the same with the key exchange and cipher ssh2 negotiates (curve25519-sha256,
#      aes128-gcm) instead of OpenSSH's default (9.x: sntrup761x25519-sha512, ~70 ms of client CPU
#      per connection; curve25519 ~10 ms);
#   2. `node -e 0`;
#   3. bench/floor-ssh2.mjs: Node + ssh2 loaded from the bundle's connection chunk, connecting to
#      the N hosts in parallel as provision does, `true` on each, exit;
#   4. bench/floor-ssh2.mjs --openssh: Node spawning the N `ssh host true` of (1);
#   4k. the same with the key exchange and cipher of (1k);
#   5. provision's no-op of bench/scale.yml (converged once first), --forks N;
# then the medians of wall, CPU (user+sys of the process and its children, /usr/bin/time) and
# peak RSS (/usr/bin/time's: the largest single process of the tree, not a sum), the ratio of each
# to (1), and the processes started on the first host by each (the last pid of its pid namespace
# before and after, read with nsenter, whose own process is subtracted; threads count too;
# "nothing" is two reads with nothing between, the host's own background noise), and the CPU the
# N hosts' sshd spent on it (the growth of each sshd listener's cutime+cstime, i.e. of the
# connections and sessions it reaped, with their commands, read 0.2 s after the command ended;
# work that leaves sshd's tree, e.g. systemd's, is not in it).
#
# As root, on a PRIVATE testbed only (never the main one, never the testbed lock):
#   PROVISION_TESTBED_DIR=/var/lib/provision/tb-floor BRIDGE=provfl0 SUBNET=10.92.0.0/24 \
#     [PREFIX=fl] [ROUNDS=7] [REUSE=1] [KEEP=1] [CONNECT_TIMEOUT=S] bash bench/floor.sh [N ...]
# brings up max(N) hosts PREFIX-01.. (REUSE=1: they are already up), uses the first N of them for
# each N, and brings the testbed down at the end (KEEP=1 keeps it). CONNECT_TIMEOUT: provision's
# connect_timeout in seconds (the inventory's default is 10; 100 hosts' first handshakes at once
# on 2 cores take longer).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
: "${PROVISION_TESTBED_DIR:?set PROVISION_TESTBED_DIR (a private testbed directory)}"
: "${BRIDGE:?set BRIDGE (a private bridge)}"
: "${SUBNET:?set SUBNET (a private subnet)}"
export PROVISION_TESTBED_DIR
TB=$(realpath -m "$PROVISION_TESTBED_DIR")
if [ "$TB" = /var/lib/provision/testbed ] || [ "$BRIDGE" = prov0 ] || [ "$SUBNET" = 10.77.0.0/24 ]; then
  echo "refusing the main testbed (dir, bridge prov0 or subnet 10.77.0.0/24): use a private one" >&2
  exit 2
fi
PREFIX=${PREFIX:-fl}
ROUNDS=${ROUNDS:-7}
[ $# -gt 0 ] || set -- 3 10
MAXN=0
for n in "$@"; do [ "$n" -gt "$MAXN" ] && MAXN=$n; done
NAMES=$(for i in $(seq 1 "$MAXN"); do printf '%s%s-%02d' "$([ "$i" -gt 1 ] && echo ,)" "$PREFIX" "$i"; done)
P=(node "$ROOT/bin/provision.js")
TBFLAGS=(--bridge "$BRIDGE" --subnet "$SUBNET")
export CI=1
TMP=$(mktemp -d /tmp/provision-floor.XXXXXX)
cleanup() {
  [ "${KEEP:-0}" = 1 ] || "${P[@]}" testbed down -q "${TBFLAGS[@]}" >/dev/null 2>&1 || true
  rm -rf "$TMP"
}
trap cleanup EXIT
load() { cut -d' ' -f1-3 /proc/loadavg; }
# run a command under /usr/bin/time: T wall s, C cpu s, R peak RSS MiB (a failure ends the benchmark)
t() {
  local s
  s=$(date +%s.%N)
  /usr/bin/time -f '%U %S %M' -o "$TMP/rusage" "$@" >"$TMP/out" 2>&1 || { echo "failed: $*" >&2; tail -20 "$TMP/out" >&2; exit 1; }
  T=$(awk -v a="$s" -v b="$(date +%s.%N)" 'BEGIN { printf "%.3f", b - a }')
  C=$(awk '{ printf "%.2f", $1 + $2 }' "$TMP/rusage")
  R=$(awk '{ printf "%.0f", $3 / 1024 }' "$TMP/rusage")
}
median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else printf "%.3f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
range() { printf '%s\n' "$@" | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { print (lo == hi ? lo : lo "–" hi) }'; }
# the last pid of the first host's pid namespace (nsenter into its init: one process there). The
# .pid file holds the restart supervisor (sh), whose child is systemd-nspawn, both in our own pid
# namespace: the host's init is the first descendant in another one.
INIT=
hostinit() {
  local p i
  p=$(cat "$TB/$1.pid")
  for i in 1 2 3 4; do
    if [ "$(readlink "/proc/$p/ns/pid")" != "$(readlink /proc/self/ns/pid)" ]; then INIT=$p; return 0; fi
    p=$(pgrep -P "$p" | head -1)
    [ -n "$p" ] || break
  done
  echo "no process of $1 in a pid namespace of its own" >&2
  return 1
}
lastpid() { nsenter -t "$INIT" -p -m cat /proc/sys/kernel/ns_last_pid; }
# the sshd listeners of the first N hosts (LISTENERS), and the CPU ticks their reaped children used
listeners() {
  local i l
  LISTENERS=()
  for i in $(seq 1 "$1"); do
    hostinit "$(printf '%s-%02d' "$PREFIX" "$i")"
    l=$(pgrep -P "$INIT" -x sshd | head -1)
    [ -n "$l" ] || { echo "no sshd listener on $PREFIX-$i" >&2; return 1; }
    LISTENERS+=("$l")
  done
  hostinit "$PREFIX-01"
}
hostticks() { local l; for l in "${LISTENERS[@]}"; do sed 's/.*) //' "/proc/$l/stat"; done | awk '{ s += $14 + $15 } END { print s }'; }
HZ=$(getconf CLK_TCK)
noop() { grep -q 'no changes: every host is converged' "$TMP/out" || { echo "not a no-op:" >&2; tail -20 "$TMP/out" >&2; exit 1; }; }

. bench/build.sh
bench_build provision bin/provision.js
echo "bench/floor.sh $*: node $(node --version), $(ssh -V 2>&1), $(nproc) cores, load $(load)"
echo "testbed: $TB, bridge $BRIDGE, subnet $SUBNET, hosts $NAMES"
if [ "${REUSE:-0}" != 1 ]; then
  "${P[@]}" testbed down -q "${TBFLAGS[@]}" >/dev/null 2>&1 || true
  t "${P[@]}" testbed up -q "${TBFLAGS[@]}" --names "$NAMES"
  echo "testbed up, $MAXN hosts: $T s"
fi
hostinit "$PREFIX-01"
echo "$PREFIX-01's init: pid $INIT ($(cat "/proc/$INIT/comm")), $(readlink "/proc/$INIT/ns/pid")"
KEY=$ROOT/.provision/testbed/id_ed25519
KH=$ROOT/.provision/testbed/known_hosts

for N in "$@"; do
  # an inventory of the first N hosts (absolute key and known_hosts), and the same as JSON targets
  INV=$TMP/floor-$N.yml
  awk -v n="$N" -v root="$ROOT" '
    /^hosts:/ { h = 1; print; next }
    h && /^  [^ ]/ { if (++k > n) next; print; next }
    h && /^[^ ]/ { h = 0 }
    { gsub(/\.\.\/\.provision\//, root "/.provision/"); print }
    /^defaults:/ && ct { print "  connect_timeout: " ct }' ct="${CONNECT_TIMEOUT:-}" inventory/testbed.yml >"$INV"
  node --input-type=module -e "
    const { loadInventory } = await import('$ROOT/dist/src/load/inventory.js');
    const hs = [...loadInventory('$INV', '$ROOT').hosts.values()];
    console.log(JSON.stringify(hs.map((h) => ({ name: h.name, address: h.address, port: h.port, user: h.user, key: h.key, knownHosts: h.knownHosts, hostKeyPolicy: h.hostKeyPolicy }))));
  " >"$TMP/targets-$N.json"
  ADDRS=$(node -e "console.log(JSON.parse(require('fs').readFileSync('$TMP/targets-$N.json','utf8')).map((t) => t.user + '@' + t.address).join(' '))")
  [ "$(echo "$ADDRS" | wc -w)" = "$N" ] || { echo "inventory of $N hosts has: $ADDRS" >&2; exit 1; }
  SSHO=(-i "$KEY" -o "UserKnownHostsFile=$KH" -o StrictHostKeyChecking=yes -o BatchMode=yes)
  # (1) as bench/shell.sh's floor, in its own bash so that /usr/bin/time sees its CPU
  # shellcheck disable=SC2016
  FLOOR=(bash -c 'o=(); while [ "$1" != -- ]; do o+=("$1"); shift; done; shift; p=(); for a; do ssh "${o[@]}" "$a" true & p+=($!); done; rc=0; for x in "${p[@]}"; do wait "$x" || rc=1; done; exit $rc' floor "${SSHO[@]}" -- $ADDRS)
  KEX=(-o KexAlgorithms=curve25519-sha256@libssh.org,curve25519-sha256 -c aes128-gcm@openssh.com)
  FLOORK=("${FLOOR[@]:0:4}" "${SSHO[@]}" "${KEX[@]}" -- $ADDRS)
  t "${P[@]}" bench/scale.yml -i "$INV" --forks "$N"
  echo
  echo "== $N hosts: converge run $T s (load $(load))"
  listeners "$N"
  declare -A W=() CP=() RS=() PR=() HC=()
  KINDS=(floor floork node ssh2 openssh opensshk provision)
  run_kind() {
    local k=$1 a b h0 h1 hc
    a=$(lastpid); h0=$(hostticks)
    case $k in
      floor) t "${FLOOR[@]}" ;;
      floork) t "${FLOORK[@]}" ;;
      node) t node -e 0 ;;
      ssh2) t node bench/floor-ssh2.mjs "$TMP/targets-$N.json" ;;
      openssh) t node bench/floor-ssh2.mjs "$TMP/targets-$N.json" --openssh ;;
      opensshk) t node bench/floor-ssh2.mjs "$TMP/targets-$N.json" --openssh "${KEX[@]}" ;;
      provision) t "${P[@]}" bench/scale.yml -i "$INV" --forks "$N"; noop ;;
    esac
    sleep 0.2
    b=$(lastpid); h1=$(hostticks); hc=$(awk -v a="$h0" -v b="$h1" -v hz="$HZ" 'BEGIN { printf "%.2f", (b - a) / hz }')
    W[$k]+=" $T"; CP[$k]+=" $C"; RS[$k]+=" $R"; PR[$k]+=" $((b - a - 1))"; HC[$k]+=" $hc"
    line="$line $k ${T}s/${C}s/${hc}s/$((b - a - 1))p"
  }
  for r in $(seq 1 "$ROUNDS"); do
    line=""
    a=$(lastpid); b=$(lastpid); PR[nothing]+=" $((b - a - 1))"
    # rotate the order each round
    for i in "${!KINDS[@]}"; do run_kind "${KINDS[$(((i + r - 1) % ${#KINDS[@]}))]}"; done
    echo "round $r (load $(load)):$line"
  done
  # shellcheck disable=SC2086
  {
    fw=$(median ${W[floor]}); fc=$(median ${CP[floor]}); kw=$(median ${W[floork]})
    echo "medians of $ROUNDS rounds, $N hosts (wall s / controller CPU s user+sys / peak RSS MiB / the hosts' sshd CPU s; processes started on $PREFIX-01), load now $(load):"
    printf '  %-46s %8s %6s %6s %7s %6s %8s %8s %10s\n' "" wall "/(1)" "/(1k)" cpu "/(1)" "rss" "hostcpu" "procs"
    for k in "${KINDS[@]}"; do
      case $k in
        floor) label="(1) $N x ssh host true (OpenSSH)" ;;
        floork) label="(1k) the same, curve25519 and aes128-gcm" ;;
        node) label="(2) node -e 0" ;;
        ssh2) label="(3) node + ssh2 (connection chunk), true" ;;
        openssh) label="(4) node spawning $N x ssh host true" ;;
        opensshk) label="(4k) the same, curve25519 and aes128-gcm" ;;
        provision) label="(5) provision no-op, scale.yml, --forks $N" ;;
      esac
      w=$(median ${W[$k]}); c=$(median ${CP[$k]})
      printf '  %-46s %8s %6s %6s %7s %6s %8s %8s %10s\n' "$label" "$w" "$(awk -v a="$w" -v b="$fw" 'BEGIN{printf "%.2f", a/b}')" "$(awk -v a="$w" -v b="$kw" 'BEGIN{printf "%.2f", a/b}')" "$c" \
        "$(awk -v a="$c" -v b="$fc" 'BEGIN{ if (b > 0) printf "%.2f", a/b; else print "-" }')" "$(median ${RS[$k]})" "$(median ${HC[$k]})" "$(range ${PR[$k]})"
    done
    printf '  %-46s %8s %6s %6s %7s %6s %8s %8s %10s\n' "(nothing: host background between two reads)" "" "" "" "" "" "" "" "$(range ${PR[nothing]})"
  }
  unset W CP RS PR HC
done
