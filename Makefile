# rifle-tui: `make run` and `make test` do all the set-up on a fresh machine.
#
# libtorch comes from PyPI (torch==2.13.0, the version tch 0.26 needs) in a virtual
# environment cached outside the clone, so every clone and CI run reuses it. Set
# LIBTORCH=/path/to/libtorch to use your own instead.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

TORCH_VERSION := 2.13.0
CACHE_DIR ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/rifle-tui
VENV := $(CACHE_DIR)/torch-$(TORCH_VERSION)
READY := $(VENV)/.ready
PYTHON ?= python3
PROFILE ?= profiles/demo.yaml

# The user's LIBTORCH wins; otherwise the cached PyPI install.
ifeq ($(strip $(LIBTORCH)),)
SETUP_DEPS := $(READY)
TORCH_ENV = export LIBTORCH="$$(cat $(VENV)/.libtorch-path)";
else
SETUP_DEPS :=
TORCH_ENV = export LIBTORCH="$(LIBTORCH)";
endif

.PHONY: setup build run test lint bench clean-cache

setup: $(SETUP_DEPS)

$(READY):
	@echo "installing libtorch $(TORCH_VERSION) from PyPI into $(VENV) (once; about 2.6 GB)"
	$(PYTHON) -m venv "$(VENV)"
	"$(VENV)/bin/pip" install --quiet --disable-pip-version-check torch==$(TORCH_VERSION)
	"$(VENV)/bin/python" -c 'import os, torch; print(os.path.dirname(torch.__file__))' > "$(VENV)/.libtorch-path"
	touch "$@"

build: setup
	$(TORCH_ENV) cargo build --release

run: build
	$(TORCH_ENV) ./target/release/rifle-tui train $(PROFILE)

test: setup
	$(TORCH_ENV) cargo test

lint: setup
	cargo fmt --all -- --check
	$(TORCH_ENV) cargo clippy --all-targets -- -D warnings

bench: build
	$(TORCH_ENV) RIFLE_PYTHON="$(VENV)/bin/python" bash benches/throughput.sh

clean-cache:
	rm -rf "$(VENV)"
