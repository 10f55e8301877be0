# patroni-stack: the two commands a newcomer needs are `make up` and `make test`.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
STACK ?= dev

.PHONY: help up down preview refresh secret status ctl unit lint typecheck test e2e chaos bench clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

up: ## install what is missing, then bring up the local cluster (STACK=dev) and print how to connect (VERBOSE=1: every step's output)
	@scripts/bootstrap.sh full
	@scripts/stack.sh up $(STACK)

down: ## destroy the cluster of STACK (default dev)
	@scripts/bootstrap.sh full
	@scripts/stack.sh down $(STACK)

preview: ## show what `make up` would change
	@scripts/bootstrap.sh full
	@scripts/stack.sh preview $(STACK)

refresh: ## let the engine re-read the hosts of STACK (then `make up` sets up any host found missing)
	@scripts/bootstrap.sh full
	@scripts/stack.sh refresh $(STACK)

ctl: ## day-2 procedures on STACK: make ctl ARGS="list|history|switchover|failover|restart|reload|pause|resume|reinit|psql|logs ..."
	@STACK=$(STACK) node_modules/.bin/ts-node --swc cli/ctl.ts $(ARGS)

secret: ## store the secret KEY of STACK encrypted, the value from stdin or a prompt (make secret KEY=sshPrivateKey < key)
	@[ -n "$(KEY)" ] || { echo "usage: make secret KEY=<config key> [STACK=<stack>] < value-file" >&2; exit 2; }
	@scripts/stack.sh secret $(KEY) $(STACK)

status: ## patronictl list of STACK
	@scripts/stack.sh status $(STACK)

lint: ## eslint, prettier and shellcheck
	@npx eslint .
	@npx prettier --check --log-level warn .
	@scripts/lint-shell.sh

typecheck: ## TypeScript strict type check
	@npx tsc --noEmit -p .

unit: ## lint, type check and unit tests
	@scripts/bootstrap.sh unit
	@$(MAKE) --no-print-directory lint typecheck
	@npx jest --selectProjects unit

e2e: ## end-to-end: the dev, seed and trixie topologies on local containers, under the engine this machine has
	@scripts/bootstrap.sh full
	@npx jest --selectProjects e2e --runInBand --verbose

test: ## unit tests, then the end-to-end suite
	@$(MAKE) --no-print-directory unit
	@$(MAKE) --no-print-directory e2e

chaos: ## every fault scenario under both failover profiles, under load: bench/results/chaos.json and docs/benchmarks.md (ARGS="--scenarios a,b --profiles fast --hog-seconds 0")
	@scripts/bootstrap.sh full
	@node_modules/.bin/ts-node --swc bench/chaos/run.ts $(ARGS)

bench: ## make chaos, the backup bench (bench/results/backup.json), the throughput bench (bench/results/pgbench.json), then the e2e suite, the 1- vs 3-replica deploys and TLS off vs on under each engine this machine has (timings in bench/results/e2e.json)
	@$(MAKE) --no-print-directory chaos
	@node_modules/.bin/ts-node --swc bench/backup.ts
	@node_modules/.bin/ts-node --swc bench/pgbench.ts
	@for engine in direct $$(scripts/toolchain.sh --check >/dev/null 2>&1 && echo pulumi); do \
	  PATRONI_STACK_ENGINE=$$engine npx jest --selectProjects e2e --runInBand --testPathPattern cluster; \
	  PATRONI_STACK_ENGINE=$$engine node_modules/.bin/ts-node --swc bench/deploy.ts; \
	  PATRONI_STACK_ENGINE=$$engine node_modules/.bin/ts-node --swc bench/tls.ts; done

clean: ## remove build output (not the stacks' state)
	rm -rf bin
