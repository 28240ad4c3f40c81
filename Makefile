# Two commands do all the set-up: `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Debian packages the tests use as real peers; installed when run as root, skipped (and said) otherwise.
# build-essential swig libssl-dev uuid-dev python3-dev: to build the SIP engine (third_party/pjproject);
# sip-tester (SIPp), baresip, kamailio: real SIP peers and proxy; espeak-ng, sox: SIP prompts;
# chromium: the browser the console's end-to-end tests drive (Playwright, never a downloaded browser).
DEBIAN_PACKAGES ?= build-essential swig libssl-dev uuid-dev python3-dev sip-tester baresip kamailio espeak-ng sox chromium

.PHONY: run test lint unit venv system-packages node voice-sdk sip-engine clean

$(BIN)/.installed: pyproject.toml
	@$(PYTHON) -m venv --help >/dev/null 2>&1 && $(PYTHON) -c 'import ensurepip' 2>/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null; \
	  else echo "python3-venv is missing: run 'sudo apt-get install python3-venv'"; exit 1; fi; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

venv: $(BIN)/.installed

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

voice-sdk: $(VOICE_SDK)

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
	bash third_party/pjproject/build_pjsua2.sh $(BIN)/python --if-possible

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .

test: venv system-packages node voice-sdk sip-engine lint
	$(BIN)/python -m pytest

run: venv voice-sdk
	$(BIN)/amparo run

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
