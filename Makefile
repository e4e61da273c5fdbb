# corebound: one command to see it work (`make demo`), one to test it (`make test`).
#
# CARGO_TARGET_DIR may point outside the checkout (CI reuses one between runs: a cold build
# of the AWS SDK crates takes 10-20 minutes on 2 cores).

SHELL := /bin/bash
VENV ?= .venv
PYTHON := $(VENV)/bin/python
export COREBOUND_PYTHON := $(abspath $(PYTHON))
TARGET_DIR := $(or $(CARGO_TARGET_DIR),$(CURDIR)/target)

.PHONY: setup test test-rust test-python lint demo bench clean

## Python venv with the pinned local AWS emulator (moto) and cfn-lint.
setup: $(VENV)/.installed
$(VENV)/.installed: tests/emulator/requirements.txt tests/requirements.txt
	python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --disable-pip-version-check -r tests/emulator/requirements.txt -r tests/requirements.txt
	touch $@

## Everything CI runs: formatting, clippy, Rust unit and end-to-end tests, emulator and template tests.
test: setup lint test-python test-rust

test-rust: setup
	cargo build --workspace --bins
	cargo test --workspace

test-python: setup
	$(PYTHON) -m unittest discover -s tests/emulator -p 'test_*.py'
	PATH="$(abspath $(VENV))/bin:$$PATH" $(PYTHON) -m unittest discover -s tests/template -p 'test_*.py'

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

## Local AWS, the three functions run through the Lambda Runtime API, what changed.
demo: setup
	cargo build --workspace --bins
	"$(TARGET_DIR)/debug/demo"

## Cold start, warm invocation, peak RSS, package size, remediation burst.
# Package sizes need cargo-lambda (pinned in tests/bench/requirements.txt) and the arm64 target;
# without them the bench reports the error and measures the rest.
bench: setup
	-$(PYTHON) -m pip install --quiet --disable-pip-version-check -r tests/bench/requirements.txt
	-rustup target add aarch64-unknown-linux-gnu
	$(PYTHON) tests/bench/bench.py --target-dir "$(TARGET_DIR)"

clean:
	rm -rf $(VENV)
