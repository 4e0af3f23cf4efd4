#!/usr/bin/env bash
# Peers benchmark (issue 8): the same workload (bench/peers/provision.yml, bench/peers/ansible.yml:
# HAProxy on lb-01; Nginx, MariaDB, Node.js on web-01 and web-02) with provision and with Ansible
# (Debian's `ansible` package), on fresh test hosts, against the cost of `ssh host true`.
#
#   bash bench/peers.sh            (root; ROUNDS=5 by default; takes the testbed lock itself)
#
#   1. fresh hosts: provision's first run
#   2. fresh hosts again: python3 for Ansible (a `raw` task, timed on its own), Ansible's first run
#   3. both converge once more (each to its own idea of converged)
#   4. ROUNDS interleaved rounds of: provision no-op, Ansible no-op, `ssh host true` to the three
#      hosts in parallel (fresh connections, like both tools make); with BASELINE=path/to/other/
#      bin/provision.js also that build's no-op (e.g. main before a change), same workload
#      provision's CPU time (user+sys) and peak RSS are printed too
#   5. medians, provision / ssh floor, Ansible / provision; the testbed is brought down at the end.
# FIRST_RUNS=0 skips 1-2 (one fresh testbed converged by both tools, then the rounds).
# Each no-op is checked to have changed nothing. Wall times: on a shared machine they are noisy.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
if [ "${PEERS_LOCKED:-}" != 1 ]; then
  exec env PEERS_LOCKED=1 flock /tmp/provision-testbed.lock bash "$0" "$@"
fi
ROUNDS=${ROUNDS:-5}
P=(node "$ROOT/bin/provision.js")
export CI=1
. "$ROOT/bench/build.sh"
bench_build provision "$ROOT/bin/provision.js"
[ -z "${BASELINE:-}" ] || bench_build baseline "$BASELINE"
command -v ansible-playbook >/dev/null || { echo "ansible-playbook not found: apt-get install ansible" >&2; exit 1; }
TMP=$(mktemp -d /tmp/provision-peers.XXXXXX)
cleanup() {
  "${P[@]}" testbed down -q >/dev/null 2>&1 || true
  rm -rf "$TMP"
}
trap cleanup EXIT

# T = wall seconds of a command (run in this shell: a failure ends the benchmark); its output
# goes to $TMP/out, its CPU time and peak RSS to $TMP/rusage
t() {
  local s e
  s=$(date +%s.%N)
  if declare -F "$1" >/dev/null; then
    "$@" >"$TMP/out" 2>&1 || { echo "failed: $*" >&2; tail -30 "$TMP/out" >&2; exit 1; } # a shell function (ssh floor)
  else
    /usr/bin/time -f '%U %S %M' -o "$TMP/rusage" "$@" >"$TMP/out" 2>&1 || { echo "failed: $*" >&2; tail -30 "$TMP/out" >&2; exit 1; }
  fi
  e=$(date +%s.%N)
  T=$(awk -v a="$s" -v b="$e" 'BEGIN { printf "%.3f", b - a }')
}

fresh() {
  "${P[@]}" testbed down -q >/dev/null 2>&1 || true
  "${P[@]}" testbed up -q --hosts 3 >/dev/null
}

# Ansible's inventory, from the testbed's (inventory/testbed.yml, .provision/testbed/)
ansible_inventory() {
  node --input-type=module -e "
    const { loadInventory } = await import('$ROOT/dist/src/load/inventory.js');
    const inv = loadInventory('testbed', '$ROOT');
    const h = inv.hosts.get('lb-01');
    const lines = ['[all:vars]', 'ansible_user=' + h.user, 'ansible_ssh_private_key_file=' + h.key,
      \"ansible_ssh_common_args='-o UserKnownHostsFile=\" + h.knownHosts + \" -o StrictHostKeyChecking=yes'\",
      'ansible_python_interpreter=/usr/bin/python3'];
    for (const g of ['loadbalancers', 'webservers']) {
      lines.push('[' + g + ']');
      for (const n of inv.groups.get(g)) lines.push(n + ' ansible_host=' + inv.hosts.get(n).address + ' ansible_port=' + inv.hosts.get(n).port);
    }
    console.log(lines.join('\n'));
  " >"$TMP/hosts.ini"
  SSH_ARGS=(-i "$(sed -n 's/^ansible_ssh_private_key_file=//p' "$TMP/hosts.ini")"
    -o "UserKnownHostsFile=$(sed -n "s/^ansible_ssh_common_args='-o UserKnownHostsFile=\([^ ]*\) .*/\1/p" "$TMP/hosts.ini")"
    -o StrictHostKeyChecking=yes -o BatchMode=yes)
  ADDRS=$(awk '/ansible_host=/ { sub(/.*ansible_host=/, ""); print $1 }' "$TMP/hosts.ini" | sort -u)
}
export ANSIBLE_HOME="$TMP/ansible" ANSIBLE_LOCAL_TEMP="$TMP/ansible/tmp" ANSIBLE_SSH_CONTROL_PATH_DIR="$TMP/ansible/cp"
export ANSIBLE_RETRY_FILES_ENABLED=0 ANSIBLE_NOCOWS=1 ANSIBLE_FORCE_COLOR=0
AP=(ansible-playbook -i "$TMP/hosts.ini" "$ROOT/bench/peers/ansible.yml")

cpu() { awk '{ printf "%.2f", $1 + $2 }' "$TMP/rusage"; }
rss() { awk '{ printf "%.0f", $3 / 1024 }' "$TMP/rusage"; }
ssh_floor() {
  local pids=() a
  for a in $ADDRS; do ssh "${SSH_ARGS[@]}" "root@$a" true & pids+=($!); done
  for p in "${pids[@]}"; do wait "$p"; done
}
# after a no-op: did it change nothing?
assert_provision_noop() { grep -q 'no changes: every host is converged' "$TMP/out" || { echo "provision no-op changed something:" >&2; tail -20 "$TMP/out" >&2; exit 1; }; }
assert_ansible_noop() {
  local bad
  bad=$(grep -E '^[a-z0-9-]+ +: ok=' "$TMP/out" | grep -vE 'changed=0 .*failed=0' || true)
  [ -z "$bad" ] || { echo "Ansible no-op changed something: $bad" >&2; exit 1; }
}

echo "bench/peers: $(ansible-playbook --version | awk 'NR == 1'), node $(node --version), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
fresh
ansible_inventory
bootstrap() {
  t ansible all -i "$TMP/hosts.ini" -m raw -a 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3 python3-apt >/dev/null && rm -rf /var/lib/apt/lists/* /var/lib/apt/periodic/update-success-stamp && touch -d 2000-01-01 /var/lib/apt/lists'
}
if [ "${FIRST_RUNS:-1}" = 1 ]; then
  t "${P[@]}" -i testbed "$ROOT/bench/peers/provision.yml"
  echo "provision first run (fresh hosts):      $T s (cpu $(cpu) s)"
  fresh
  ansible_inventory
  # python3 for Ansible; the apt lists it needed are dropped again and marked old, so Ansible's
  # first run updates them as provision's did (cache_valid_time: Ansible reads the mtime of
  # update-success-stamp, else of /var/lib/apt/lists)
  bootstrap
  echo "Ansible bootstrap (raw: python3):       $T s"
  t "${AP[@]}"
  echo "Ansible first run (fresh hosts):        $T s"
else
  # FIRST_RUNS=0: only the no-op comparison (one fresh testbed, converged by both)
  bootstrap
  t "${P[@]}" -i testbed "$ROOT/bench/peers/provision.yml"
  t "${AP[@]}"
fi
t "${P[@]}" -i testbed "$ROOT/bench/peers/provision.yml"
c1=$T
t "${AP[@]}"
echo "converge once more: provision $c1 s, Ansible $T s"

pv=() an=() fl=() pc=() bl=() bc=()
for r in $(seq 1 "$ROUNDS"); do
  t "${P[@]}" -i testbed "$ROOT/bench/peers/provision.yml"; assert_provision_noop
  pv+=("$T"); pc+=("$(cpu)"); line="provision $T s (cpu $(cpu) s, rss $(rss) MiB)"
  if [ -n "${BASELINE:-}" ]; then
    # the baseline's own copy of the workload, if it has one (an older build may not know a key of ours)
    bpb=$(dirname "$BASELINE")/../bench/peers/provision.yml
    [ -f "$bpb" ] || bpb=$ROOT/bench/peers/provision.yml
    t node "$BASELINE" -i "$ROOT/inventory/testbed.yml" "$bpb"; assert_provision_noop
    bl+=("$T"); bc+=("$(cpu)"); line="$line, baseline $T s (cpu $(cpu) s)"
  fi
  t "${AP[@]}"; assert_ansible_noop; an+=("$T")
  t ssh_floor; fl+=("$T")
  echo "round $r: $line, Ansible ${an[-1]} s, ssh host true ${fl[-1]} s"
done
median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else printf "%.3f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
mp=$(median "${pv[@]}"); ma=$(median "${an[@]}"); mf=$(median "${fl[@]}")
echo
echo "medians of $ROUNDS rounds (already converged, 3 hosts):"
echo "  provision no-op:          $mp s (cpu $(median "${pc[@]}") s)"
[ -z "${BASELINE:-}" ] || echo "  baseline no-op:           $(median "${bl[@]}") s (cpu $(median "${bc[@]}") s; $BASELINE)"
echo "  Ansible no-op:            $ma s"
echo "  ssh host true (floor):    $mf s"
awk -v p="$mp" -v a="$ma" -v f="$mf" 'BEGIN { printf "  provision / ssh floor:    %.2f (target <= 2.5)\n  Ansible / provision:      %.2f (target >= 10)\n", p / f, a / p }'
