# The two commands: `make run` (service + embedded Swift + frontend) and `make test` (everything).
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Debian packages the tests need (the browser tests drive Debian's Chromium).
APT_PACKAGES ?= curl jq redis-server chromium nodejs npm
# Debian packages only the benchmarks need (`make bench`; nginx for bench/keepalive.py), not the tests.
BENCH_APT_PACKAGES ?= wrk nginx
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
INSTALLED := $(VENV)/.installed
# pyrax (STORAGE_BACKEND=pyrax) pins python-novaclient 2.27.0 (pbr<2), which cannot share an
# environment with the keystone extra: its tests run in a venv of their own, with the embedded
# Swift (the `embedded` extra) they store to.
PYRAX_VENV ?= .venv-pyrax
PYRAX_INSTALLED := $(PYRAX_VENV)/.installed
# What the Uppy and TypeScript tests install (tests/npm/): Uppy, esbuild, TypeScript, and the
# client package (frontend/) copied in as a registry install would.
NPM_DIR := tests/npm
NPM_INSTALLED := $(NPM_DIR)/node_modules/.installed

.PHONY: run test bench lint format system-deps clean

# The try-it session `make run` prints uses curl and jq.
run: $(INSTALLED)
	@$(MAKE) --no-print-directory system-deps APT_PACKAGES="curl jq"
	$(BIN)/upload-signer dev

test: system-deps $(INSTALLED) $(PYRAX_INSTALLED) $(NPM_INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(PYRAX_VENV)/bin/pytest -q -p no:cacheprovider tests/storage/test_pyrax_backend.py
	$(BIN)/pytest

# Benchmarks (bench/): results printed and saved as JSON in bench/results/. BENCH_ARGS passes
# options, e.g. `make bench BENCH_ARGS="--only signing"`.
bench: $(INSTALLED)
	@$(MAKE) --no-print-directory system-deps APT_PACKAGES="$(BENCH_APT_PACKAGES)"
	$(BIN)/python -m bench $(BENCH_ARGS)

# Debian's python3 makes venvs only with python3-venv (ensurepip), which a fresh machine may lack.
VENV_DEPS = $(PYTHON) -c 'import ensurepip' 2>/dev/null || \
	$(MAKE) --no-print-directory system-deps APT_PACKAGES=python3-venv

$(INSTALLED): pyproject.toml
	@$(VENV_DEPS)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

# Makefile too: a package added here must reach a venv that already exists.
$(PYRAX_INSTALLED): pyproject.toml Makefile
	@$(VENV_DEPS)
	test -x $(PYRAX_VENV)/bin/python || $(PYTHON) -m venv $(PYRAX_VENV)
	$(PYRAX_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(PYRAX_VENV)/bin/python -m pip install --quiet -e '.[pyrax,embedded]' 'pytest>=8' 'requests-mock>=1.11'
	touch $@

# frontend/ too: the installed copy must be the client as it is now.
$(NPM_INSTALLED): $(NPM_DIR)/package.json $(wildcard frontend/*.js frontend/*.d.ts frontend/package.json) \
		$(shell find frontend/vendor -type f)
	rm -rf $(NPM_DIR)/node_modules/@upload-signer/client
	cd $(NPM_DIR) && npm install --install-links --no-audit --no-fund --loglevel=error
	touch $@

# A package is there when dpkg has it or a command of its name is on PATH: NodeSource's nodejs
# bundles npm and conflicts with Debian's npm package, so asking apt for npm there would fail.
system-deps:
	@missing=$$(for p in $(APT_PACKAGES); do \
		dpkg -s $$p >/dev/null 2>&1 || command -v $$p >/dev/null || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages: $$missing"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(INSTALLED)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) $(PYRAX_VENV) $(NPM_DIR)/node_modules .data .pytest_cache .ruff_cache
