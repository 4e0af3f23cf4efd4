#!/usr/bin/env bash
# Install what provision, its test hosts and its tests need on a Debian 12 machine.
# Idempotent: installs only what is missing. Needs root for the Debian packages.
set -euo pipefail
cd "$(dirname "$0")/.."

DEBS=(systemd-container debootstrap iptables iproute2 openssh-client openssh-server sudo curl ca-certificates)
if [ "${PROVISION_SETUP_TEST_DEBS:-0}" = 1 ]; then
  # for the tests: a throwaway MariaDB for the mysql module tests, vagrant for `vagrant validate`
  DEBS+=(mariadb-server mariadb-client vagrant)
  DEBS+=(ansible)   # ansible-inventory, for the differential inventory test
  # the Docker engine for the Vagrantfile's docker provider (test/e2e/vagrant.test.ts)
  DEBS+=(docker.io)
fi

missing=()
for p in "${DEBS[@]}"; do
  dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null | grep -q '^ii' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "setup: missing Debian packages: ${missing[*]}" >&2
    echo "setup: run as root, or: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # keep the controller's own services (sshd, mariadb) from starting on install
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod 755 /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
  rm -f /usr/sbin/policy-rc.d
  trap - EXIT
fi

if ! command -v node >/dev/null 2>&1 || [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then
  echo "setup: Node.js >= 20 with npm is needed (found: $(node --version 2>/dev/null || echo none)); Debian 12's nodejs is 18: install Node 20+ (e.g. from nodejs.org or NodeSource) first" >&2
  exit 1
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi
echo "setup: build"
rm -rf dist   # no stale compiled files (e.g. of a deleted test) survive
npx tsc -p tsconfig.json
node scripts/bundle.mjs   # the CLI as one bundle: a shorter start-up (bin/provision.js)
