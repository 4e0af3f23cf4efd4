#!/usr/bin/env bash
# Local testbed: Debian 12 hosts in systemd-nspawn containers (lb-01, web-01, web-02, ...).
#
#   sudo scripts/testbed.sh up [--hosts N] [--subnet CIDR]   # writes inventory/testbed.yml
#   sudo scripts/testbed.sh status [--json]
#   sudo scripts/testbed.sh down
#
# Same as `provision testbed ...` and bin/provision-testbed.js.
# Builds dist/ when the testbed sources are newer than the compiled output.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
  echo "error: provision testbed needs root (systemd-nspawn, bridges, iptables); run it with sudo" >&2
  exit 1
fi

js=dist/src/testbed/main.js
if [ ! -f "$js" ] || [ -n "$(find src/testbed -name '*.ts' -newer "$js" -print -quit)" ]; then
  # Other parts of the project may not compile at every moment; tsc still emits our files.
  npx --no-install tsc -p tsconfig.json >&2 || [ -f "$js" ] || { echo "error: build failed" >&2; exit 1; }
fi
exec node "$js" testbed "$@"
