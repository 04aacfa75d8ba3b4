# genai-serve: every stage is a target and idempotent. `make all` = setup, train, export, archive, serve, smoke.
# The model list lives only in models.yaml; targets that take a model read MODEL / the target suffix.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON_BASE ?= python3.11
VENV        := .venv
PY          := $(VENV)/bin/python
STAMP       := $(VENV)/.installed
DATA_DIR    ?=
DOWNLOAD    ?=
VERSION     ?=
MODEL       ?=
TRAIN_ARGS  := $(if $(DATA_DIR),--data-dir $(DATA_DIR)) $(if $(DOWNLOAD),--download)

.PHONY: help setup check-java train export archive serve stop status smoke test test-unit test-e2e clean distclean all curl-examples loadtest bench bench-batching bench-samplers bench-gpt2 gallery

help: ## list targets
	@grep -E '^[a-zA-Z%_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

check-java: ## fail clearly unless Java 17+ is on PATH (TorchServe's frontend is a JVM)
	@command -v java >/dev/null || { echo "ERROR: java not found. TorchServe needs a Java 17+ runtime (Debian: apt-get install openjdk-17-jre-headless)." >&2; exit 1; }
	@v=$$(java -version 2>&1 | sed -nE 's/.*version "([0-9]+).*/\1/p' | head -1); \
	 if [ -z "$$v" ] || [ "$$v" -lt 17 ]; then echo "ERROR: Java 17+ required for TorchServe, found: $$(java -version 2>&1 | head -1)" >&2; exit 1; fi

$(STAMP): pyproject.toml | check-java
	@command -v $(PYTHON_BASE) >/dev/null || { echo "ERROR: $(PYTHON_BASE) not found (set PYTHON_BASE=python3.x, 3.11 or 3.12)" >&2; exit 1; }
	test -x $(PY) || $(PYTHON_BASE) -m venv $(VENV)
	$(PY) -m pip install -q -e ".[dev]"
	$(PY) -m pip check
	touch $(STAMP)

setup: check-java $(STAMP) ## create .venv with the exact pins (idempotent)

train: setup ## train every model in models.yaml (DATA_DIR=/path for real data, DOWNLOAD=1 to fetch)
	$(PY) -m training.run $(TRAIN_ARGS)
train-%: setup
	$(PY) -m training.run $* $(TRAIN_ARGS)

export: setup ## export checkpoints to deployable artifacts (ONNX + parity gate)
	$(PY) -m export.run
export-%: setup
	$(PY) -m export.run $*

archive: setup ## pack one .mar per model and version into model_store/
	$(PY) -m export.archive $(if $(VERSION),--version $(VERSION))
archive-%: setup
	$(PY) -m export.archive $* $(if $(VERSION),--version $(VERSION))

serve: setup ## start TorchServe in the background, register every archive, wait until each answers
	$(PY) -m genai_serve.serve start

stop: setup ## stop TorchServe; returns when the processes are gone and the ports are free
	$(PY) -m genai_serve.serve stop

status: setup ## show the server and its models
	$(PY) -m genai_serve.serve status

smoke: setup ## one sample request to every served model
	$(PY) -m genai_serve.serve smoke

USERS    ?= 16
DURATION ?= 30s
LOAD_HOST ?= http://127.0.0.1:8080
loadtest: setup ## Locust against the running server (MODEL=cnn USERS=16 DURATION=30s); reports/ gets CSV + HTML
	mkdir -p reports
	GENAI_MODELS=$(MODEL) $(PY) -m locust -f loadtests/locustfile.py --headless -u $(USERS) -r $(USERS) -t $(DURATION) \
	  --host $(LOAD_HOST) --csv reports/loadtest-$(or $(MODEL),all) --html reports/loadtest-$(or $(MODEL),all).html --only-summary

bench-batching: setup ## requests/s with batching on vs off for MODEL (default cnn), side by side
	$(PY) -m loadtests.batching --model $(or $(MODEL),cnn) --users $(USERS) --duration $(or $(BENCH_DURATION),20s)

bench-samplers: setup ## ORT vs torch reverse diffusion, batched vs serial Langevin (needs train + export); writes docs/BENCHMARKS.md
	$(PY) -m loadtests.bench_samplers

bench-gpt2: setup ## GPT-2 124M-shape tok/s: eager generate vs our ONNX Runtime loop (random weights); writes docs/BENCHMARKS.md
	$(PY) -m loadtests.bench_gpt2

bench: bench-samplers bench-gpt2 bench-batching ## every benchmark (bench-batching needs `make serve`)

gallery: setup ## samples from every image model on the running server -> docs/gallery/*.png + index.html
	$(PY) -m genai_serve.gallery

curl-examples: setup ## print working curl examples with the current token
	$(PY) -m genai_serve.serve curl

all: setup train export archive serve ## fresh clone -> trained, exported, archived, served, answered (serve smokes every model and prints curl lines)

test: setup ## unit tests + end-to-end tests against a real TorchServe
	$(PY) -m pytest -q -ra

test-unit: setup
	$(PY) -m pytest -q -ra -m "not e2e"

test-e2e: setup
	$(PY) -m pytest -q -ra -m e2e

clean: ## remove generated files (keeps .venv; `make distclean` removes it too)
	-$(PY) -m genai_serve.serve stop 2>/dev/null
	rm -rf checkpoints artifacts run logs reports key_file.json model_store/*.mar .pytest_cache

distclean: clean
	rm -rf $(VENV)
