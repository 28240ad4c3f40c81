# Two commands do all the set-up: `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Debian packages the tests use as real peers; installed when run as root, skipped (and said) otherwise.
# build-essential swig libssl-dev uuid-dev python3-dev: to build the SIP engine (third_party/pjproject);
# sip-tester (SIPp), baresip, kamailio: real SIP peers and proxy; kamailio-websocket-modules,
# kamailio-tls-modules, kamailio-autheph-modules, rtpengine-daemon: agents' browsers over WebRTC
# (docs/sip.md); espeak-ng, sox: SIP prompts;
# chromium: the browser the console's end-to-end tests drive (Playwright, never a downloaded browser).
DEBIAN_PACKAGES ?= build-essential swig libssl-dev uuid-dev python3-dev sip-tester baresip kamailio kamailio-websocket-modules kamailio-tls-modules kamailio-autheph-modules rtpengine-daemon espeak-ng sox chromium haproxy redis-sentinel

.PHONY: run test lint lint-locked lock-check lock upgrade venv venv-runtime system-packages node voice-sdk sip-engine clean

# Python dependencies are locked in uv.lock (every package, runtime and dev, with hashes); the
# virtualenv is built from the lock only. uv itself is pinned here and kept in its own venv.
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
export UV_PYTHON := $(PYTHON)
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)

$(UV):
	@$(PYTHON) -m venv --help >/dev/null 2>&1 && $(PYTHON) -c 'import ensurepip' 2>/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null; \
	  else echo "python3-venv is missing: run 'sudo apt-get install python3-venv'"; exit 1; fi; }
	rm -rf $(TOOLS)
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check --only-binary :all: uv==$(UV_VERSION)

# The runtime set, for `make run`; --inexact keeps the dev tools of an earlier `make test`.
$(VENV)/.synced-runtime: uv.lock pyproject.toml | $(UV)
	$(UV) sync --locked --inexact --quiet
	touch $@

# Runtime and dev sets, exactly as locked: a changed lock rebuilds the venv, and what an older
# lock had is removed (sip-engine puts pjsua2, which is built here, back from its cache).
$(VENV)/.synced-dev: uv.lock pyproject.toml | $(UV)
	$(UV) sync --locked --extra dev --quiet
	touch $@ $(VENV)/.synced-runtime

venv-runtime: $(VENV)/.synced-runtime
venv: $(VENV)/.synced-dev

# Fails when pyproject.toml and uv.lock disagree (no network needed).
lock-check: | $(UV)
	$(UV) lock --check --offline

# Re-resolve the lock after editing pyproject.toml (keeps every pin that still fits).
lock: | $(UV)
	$(UV) lock

# Move every pin to the newest release pyproject's ranges allow, then run every test.
upgrade: | $(UV)
	$(UV) lock --upgrade
	$(MAKE) test

# Test tools from npm (Prism mocks Twilio's REST API); reinstalled when the lock file changes.
node_modules/.package-lock.json: package.json package-lock.json
	@command -v npm >/dev/null 2>&1 || [ "$$(id -u)" != 0 ] || { \
	  DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null; }
	@command -v npm >/dev/null 2>&1 || { echo "npm is missing: the Twilio tests against Prism cannot run"; exit 0; }; \
	npm ci --no-audit --no-fund --loglevel=error

node: node_modules/.package-lock.json

# The Twilio Voice JS SDK the console serves at /static/vendor/twilio.min.js (no CDN), copied
# from the npm package; the copy is git-ignored. Without npm the softphone shows "voice not
# available" in Twilio mode; simulator mode does not need it.
VOICE_SDK := agent_console/static/vendor/twilio.min.js
$(VOICE_SDK): node_modules/.package-lock.json
	@if [ -f node_modules/@twilio/voice-sdk/dist/twilio.min.js ]; then \
	  mkdir -p $(dir $@) && cp node_modules/@twilio/voice-sdk/dist/twilio.min.js $@; \
	else echo "@twilio/voice-sdk is not installed: the Twilio softphone is unavailable"; fi

# JsSIP, the browser phone of SIP mode, bundled from the npm package (which ships CommonJS only)
# into one script the console serves at /static/vendor/jssip.min.js; git-ignored like the above.
JSSIP := agent_console/static/vendor/jssip.min.js
$(JSSIP): node_modules/.package-lock.json
	@if [ -f node_modules/jssip/lib/JsSIP.js ] && [ -x node_modules/.bin/esbuild ]; then \
	  mkdir -p $(dir $@) && node_modules/.bin/esbuild node_modules/jssip/lib/JsSIP.js --bundle \
	    --format=iife --global-name=JsSIP --minify --log-level=warning --outfile=$@; \
	else echo "jssip is not installed: the browser phone of SIP mode is unavailable"; fi

voice-sdk: $(VOICE_SDK) $(JSSIP)

system-packages:
	@missing=""; for p in $(DEBIAN_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then \
	  echo "installing Debian packages:$$missing"; \
	  DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	else echo "not root: Debian packages$$missing are missing; tests that need them are skipped"; fi

# pjsua2 with raised call limits, built once per machine (wheel cached outside the checkout).
sip-engine: venv system-packages
	UV="$(abspath $(UV))" bash third_party/pjproject/build_pjsua2.sh $(BIN)/python --if-possible

# ruff, mypy and the import-linter contracts (pyproject) with the project's venv (incremental).
lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .
	$(BIN)/lint-imports

# The same checks from a virtualenv built from the lock into a fresh temporary directory, with a
# fresh mypy cache: what a new machine gets, whatever the local .venv holds. `make test` runs this.
lint-locked: lock-check
	@tmp="$$(mktemp -d)"; trap 'rm -rf "$$tmp"' EXIT; set -e; \
	UV_PROJECT_ENVIRONMENT="$$tmp/venv" $(UV) sync --locked --extra dev --quiet; \
	echo "lint with a venv built from uv.lock in $$tmp"; \
	"$$tmp/venv/bin/ruff" check --no-cache .; \
	"$$tmp/venv/bin/ruff" format --no-cache --check .; \
	"$$tmp/venv/bin/mypy" --cache-dir "$$tmp/mypy" .; \
	"$$tmp/venv/bin/lint-imports" --no-cache

test: lint-locked venv system-packages node voice-sdk sip-engine
	AMPARO_UV="$(abspath $(UV))" $(BIN)/python -m pytest

run: venv-runtime voice-sdk
	$(BIN)/amparo run

clean:
	rm -rf $(VENV) $(TOOLS) .import_linter_cache .mypy_cache .ruff_cache .pytest_cache
