# Quick start (Debian 12, as root):
#   make demo   bring up three local test hosts, provision www.foobar.com, verify it
#   make test   the whole test suite (lint, types, unit, integration, end to end)
.PHONY: demo test build lint check down bench

demo:
	bash scripts/demo.sh

test:
	bash scripts/test-all.sh

build:
	npm run --silent build

lint:
	npx eslint src test bench

check: build
	node bin/provision.js --inventory testbed --check --diff

down: build
	node bin/provision.js testbed down

bench: build
	node dist/bench/run.js
