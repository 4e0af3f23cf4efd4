#!/usr/bin/env bash
# The whole test suite: lint, type check, unit tests, integration tests against a real
# OpenSSH server and a throwaway MariaDB, then the end-to-end run on three fresh test hosts.
set -euo pipefail
cd "$(dirname "$0")/.."
PROVISION_SETUP_TEST_DEBS=1 bash scripts/setup.sh

echo "== lint"
npx eslint src test bench
echo "== type check"
npx tsc -p tsconfig.json --noEmit

echo "== Vagrantfile (static: no box is needed)"
if command -v vagrant >/dev/null 2>&1; then
  out=$(VAGRANT_DISABLE_VERSION_CHECKPOINT=1 vagrant validate --ignore-provider 2>&1) && echo "vagrant validate: $out" || { echo "vagrant validate failed: $out"; exit 1; }
fi

echo "== tests"
# the Vagrant (docker provider) e2e first: the nspawn e2e tests after it prove that the test
# hosts still work next to Docker's firewall changes (FORWARD policy DROP, br_netfilter)
e2e=(dist/test/e2e/vagrant.test.js)
for f in dist/test/e2e/*.test.js; do [ "$f" = "${e2e[0]}" ] || e2e+=("$f"); done
files=(dist/test/unit/*.test.js dist/test/unit/modules/*.test.js dist/test/integration/*.test.js "${e2e[@]}")
exec node --test --test-concurrency=1 "${files[@]}"
