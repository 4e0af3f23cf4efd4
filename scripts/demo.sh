#!/usr/bin/env bash
# The main job on the built-in default: bring up three local test hosts, provision
# www.foobar.com on them (ending with its verification), and show where to look.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then echo "demo: the local test hosts need root (systemd-nspawn, a bridge, iptables): run with sudo" >&2; exit 1; fi
bash scripts/setup.sh
node bin/provision.js testbed up
node bin/provision.js --inventory testbed --diff
lb=$(awk '/lb-01:/ {for (i=1;i<=NF;i++) if ($i=="address:") {gsub(/[},]/,"",$(i+1)); print $(i+1)}}' inventory/testbed.yml)
cat <<MSG

www.foobar.com is up on the local test hosts:
  load balancer   lb-01  http://$lb/   (send Host: www.foobar.com)
  try:            curl -s -H 'Host: www.foobar.com' http://$lb/ ; curl -sk --resolve www.foobar.com:443:$lb https://www.foobar.com/
  a dry run:      node bin/provision.js --inventory testbed --check --diff
  verify only:    node bin/provision.js verify --inventory testbed
  HAProxy stats:  ssh -i .provision/testbed/id_ed25519 -o UserKnownHostsFile=.provision/testbed/known_hosts root@$lb curl -s 'http://127.0.0.1:8404/stats;csv'
  Prometheus:     ssh -i .provision/testbed/id_ed25519 -o UserKnownHostsFile=.provision/testbed/known_hosts -L 9090:127.0.0.1:9090 root@$lb   then http://127.0.0.1:9090/alerts
  tear down:      node bin/provision.js testbed down
MSG
curl -s -H 'Host: www.foobar.com' "http://$lb/" | sed -n '1,20p'
