# corebound: one command to see it work (`make demo`), one to test it (`make test`).
#
# CARGO_TARGET_DIR may point outside the checkout (CI reuses one between runs: a cold build
# of the AWS SDK crates takes 10-20 minutes on 2 cores).

SHELL := /bin/bash
VENV ?= .venv
PYTHON := $(VENV)/bin/python
# Template linters (cfn-lint, checkov) live in their own venv: checkov pins a boto3 that the
# emulator's pinned moto/boto3 cannot share.
LINT_VENV ?= .venv-lint
LINT_PYTHON := $(LINT_VENV)/bin/python
export COREBOUND_PYTHON := $(abspath $(PYTHON))
TARGET_DIR := $(or $(CARGO_TARGET_DIR),$(CURDIR)/target)

.PHONY: setup test test-rust test-python test-templates check-templates lint demo demo-org local bench fuzz clean

## Python venvs: the pinned local AWS emulator (moto), and the template linters (cfn-lint, checkov).
setup: $(VENV)/.installed $(LINT_VENV)/.installed
$(VENV)/.installed: tests/emulator/requirements.txt
	python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --disable-pip-version-check -r tests/emulator/requirements.txt
	touch $@
$(LINT_VENV)/.installed: tests/requirements.txt
	python3 -m venv $(LINT_VENV)
	$(LINT_PYTHON) -m pip install --quiet --disable-pip-version-check -r tests/requirements.txt
	touch $@

## Everything CI runs: formatting, clippy, Rust unit and end-to-end tests, emulator and template tests.
test: setup lint test-python test-rust check-templates

test-rust: setup
	cargo build --workspace --bins
	cargo test --workspace

test-python: setup test-templates
	$(PYTHON) -m unittest discover -s tests/emulator -p 'test_*.py'

## cfn-lint and checkov (0 failed) on template.yaml and examples/, and the reviewer's checks.
test-templates: setup
	PATH="$(abspath $(LINT_VENV))/bin:$$PATH" $(LINT_PYTHON) -m unittest discover -s tests/template -p 'test_*.py'

# --- preflight ---
## `corebound check` on our own templates: our stack passes our own preflight. The settings
## (tests/fixtures/preflight-own-templates.args, one argument per line) are those of
## docs/samconfig.toml.example (a preprod deployment) with an example account; the Rust test
## tests/tests/preflight_check.rs runs the same check, so `cargo test` enforces it too.
PREFLIGHT_ARGS := $(shell cat tests/fixtures/preflight-own-templates.args)
PREFLIGHT_KEY := arn:aws:kms:eu-west-1:123456789012:key/0a1b2c3d-4e5f-6789-abcd-ef0123456789
# Twice: with the project key the stack creates (KmsKeyArn empty), and with a key supplied.
check-templates:
	cargo build -p corebound-cli --bin corebound
	"$(TARGET_DIR)/debug/corebound" check template.yaml examples/*.yaml $(PREFLIGHT_ARGS)
	"$(TARGET_DIR)/debug/corebound" check template.yaml $(wildcard templates/*.yaml) $(PREFLIGHT_ARGS) \
		--parameter KmsKeyArn=$(PREFLIGHT_KEY)

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

## Local AWS, the three functions run through the Lambda Runtime API, what changed.
demo: setup
	cargo build --workspace --bins
	"$(TARGET_DIR)/debug/demo"

## Organization mode (issue 13): a hub and two spokes in two regions on local AWS, the events
## each spoke forwards, the faults, and what happened in each account.
demo-org: setup
	cargo build -p remediator -p corebound-tests --bins
	"$(TARGET_DIR)/debug/demo_org"

## Local AWS in the foreground, seeded with every resource events/ names; prints the `export`
## lines for the shell that runs `cargo lambda watch` (README: "Run a function locally by hand").
# LOCAL_PORT (default 4599: the port of the events' ResponseURLs), LOCAL_HOST (default
# 127.0.0.1; 0.0.0.0 lets containers reach it, for `sam local invoke` on Linux).
LOCAL_PORT ?= 4599
LOCAL_HOST ?= 127.0.0.1
# Builds the functions too, so `cargo lambda watch` (same target directory) starts them at once.
local: $(VENV)/.installed
	cargo build --workspace --bins
	@"$(TARGET_DIR)/debug/local" --port "$(LOCAL_PORT)" --host "$(LOCAL_HOST)"

## Cold start, warm invocation, peak RSS, package size, remediation burst.
# Package sizes need cargo-lambda (pinned in tests/bench/requirements.txt) and the arm64 target;
# without them the bench reports the error and measures the rest.
bench: setup
	-$(PYTHON) -m pip install --quiet --disable-pip-version-check -r tests/bench/requirements.txt
	-rustup target add aarch64-unknown-linux-gnu
	$(PYTHON) tests/bench/bench.py --target-dir "$(TARGET_DIR)"

## Every parser with generated and mutated inputs, FUZZ_SECONDS each (default 120).
# A bounded smoke run is part of `make test` (tests/tests/fuzz_smoke.rs).
FUZZ_SECONDS ?= 120
# The model-based ownership tests run longer here than in `make test` (48 runtime-policy sequences
# and 40 grant steps there): MODEL_CASES sequences and GRANTS_MODEL_STEPS steps.
MODEL_CASES ?= 1000
GRANTS_MODEL_STEPS ?= 200
fuzz: setup
	cargo build -p corebound-tests --bin fuzz
	FUZZ_SECONDS=$(FUZZ_SECONDS) "$(TARGET_DIR)/debug/fuzz"
	COREBOUND_MODEL_CASES=$(MODEL_CASES) cargo test -p corebound --lib model_test -- --nocapture
	cargo build --workspace --bins
	GRANTS_MODEL_STEPS=$(GRANTS_MODEL_STEPS) cargo test -p corebound-tests --test memory_grant model_ -- --nocapture

clean:
	rm -rf $(VENV) $(LINT_VENV)
