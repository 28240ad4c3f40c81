# Two commands do all the set-up: `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Debian packages the tests use as real peers; installed when run as root, skipped (and said) otherwise.
# build-essential swig libssl-dev uuid-dev python3-dev: to build the SIP engine (third_party/pjproject).
DEBIAN_PACKAGES ?= build-essential swig libssl-dev uuid-dev python3-dev

.PHONY: run test lint unit venv system-packages sip-engine clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

venv: $(BIN)/.installed

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

test: venv system-packages sip-engine lint
	$(BIN)/python -m pytest

run: venv
	$(BIN)/amparo run

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
