#!/usr/bin/env bash
# Differential tester: --check must be exact or say unknown (issue 6).
#
#   sudo scripts/difftest.sh [--seeds N] [--from S] [--jobs J] [--playbook FILE]... [--regressions] [--out DIR] [--print] [--retries N] [--keep DIR]
#
# Brings up its own testbed (bridge provdt0, 10.78.0.0/24, /var/lib/provision/difftest; it runs
# alongside the main testbed), runs each case on fresh hosts (--check --json, then the real run),
# prints OK/MISMATCH per case and the totals (pairs, mismatches, unknown rate), and brings its
# testbed down again (also on Ctrl-C). Failing cases are saved (default /tmp/provision-difftest/failures)
# in the format of test/difftest/regressions/*.yml; --keep DIR keeps every case with its two reports.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then
  echo "error: the differential tester needs root (systemd-nspawn test hosts); run it with sudo" >&2
  exit 1
fi
npx --no-install tsc -p tsconfig.json >&2 || { echo "error: build failed" >&2; exit 1; }
exec node dist/test/difftest/main.js "$@"
