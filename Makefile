# The two commands of the README: `make run` (the demo) and `make test` (the whole test suite).
# Both prepare the machine first with scripts/setup.sh (idempotent: fast when all is in place) and share
# one debug build (dependencies optimised, see Cargo.toml profiles); `make bench` builds release.

CARGO ?= cargo
CONFIG ?=
BENCH_ARGS ?= --streams 4 --seconds 20

.PHONY: setup run test lint bench

setup:
	bash scripts/setup.sh

run: setup
	@echo "==> cargo build (first time 15 to 20 minutes on 2 cores; after make test nothing to rebuild)"
	$(CARGO) run -- run $(if $(CONFIG),--config $(CONFIG))

test: setup
	@echo "==> cargo test: build (first time 15 to 20 minutes on 2 cores), then the tests (about 7 minutes)"
	$(CARGO) test --workspace --all-targets
	bash scripts/check_shared_build.sh
	.venv/bin/python grafana/check_dashboard.py
	.venv/bin/python docs/check_config_doc.py config/default.toml deploy/panoptes.toml
	.venv/bin/python -m unittest discover -s grafana -p 'test_*.py'
	.venv/bin/python -m unittest discover -s docs -p 'test_*.py'
	bash scripts/api_fuzz.sh 25
	bash scripts/fuzz.sh --seconds 20

lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

bench: setup
	$(CARGO) run --release -- bench $(BENCH_ARGS)
