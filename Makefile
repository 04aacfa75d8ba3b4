# genai-serve: every stage is a target and idempotent. `make all` = setup, then each model trained, exported,
# archived and served as soon as it is ready (genai_ops/pipeline.py), smoked, with its curl line.
# The model list lives only in models.yaml; targets that take a model read MODEL / the target suffix.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON_BASE ?= python3.11
VENV        := .venv
PY          := $(VENV)/bin/python
STAMP       := $(VENV)/.installed
# KServe's model server, in a virtualenv of its own (kserve pins psutil<6), from the runtime image's lock file:
# the KServe runtime's tests and KServe's own client run from it.
KSERVE_VENV := .venv-kserve
KSERVE_STAMP := $(KSERVE_VENV)/.installed
DATA_DIR    ?=
DOWNLOAD    ?=
VERSION     ?=
MODEL       ?=
DEVICE      ?=
ARGS        ?=
TRAIN_ARGS  := $(if $(DATA_DIR),--data-dir $(DATA_DIR)) $(if $(DOWNLOAD),--download)

.PHONY: help setup check-java train export archive serve stop status smoke test test-unit test-e2e clean distclean all curl-examples loadtest bench bench-batching bench-samplers bench-gpt2 bench-gpt2-served bench-serving bench-peers bench-cuts bench-iterative bench-grammar grammar-eval heavy bench-lowload bench-floor gallery gpu-check reliability soak lint-docker validate-k8s kserve-bundle kserve-venv promtool docker-tools image image-test ctl models promote rollback

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

$(KSERVE_STAMP): docker/kserve-requirements.txt
	@command -v $(PYTHON_BASE) >/dev/null || { echo "ERROR: $(PYTHON_BASE) not found" >&2; exit 1; }
	test -x $(KSERVE_VENV)/bin/python || $(PYTHON_BASE) -m venv $(KSERVE_VENV)
	$(KSERVE_VENV)/bin/pip install -q -r docker/kserve-requirements.txt
	$(KSERVE_VENV)/bin/pip check
	touch $(KSERVE_STAMP)

kserve-venv: $(KSERVE_STAMP) ## .venv-kserve: KServe's model server and client at the runtime image's pins

# promtool (Debian's prometheus package) unit-tests the alerting rules in `make test`. Installed with apt where
# this runs as root (as on the project's machines and CI); elsewhere install it yourself or the test skips.
promtool:
	@command -v promtool >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing promtool (Debian package prometheus)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null; \
	  else echo "WARNING: promtool not found (Debian: apt-get install prometheus); the alerting-rule tests will skip" >&2; fi; }

# Docker Engine, compose and debootstrap for `make image-test` (root + apt; elsewhere install Docker yourself).
docker-tools:
	@need=""; command -v dockerd >/dev/null || need="$$need docker.io"; \
	 command -v debootstrap >/dev/null || need="$$need debootstrap"; \
	 { docker compose version || command -v docker-compose; } >/dev/null 2>&1 || need="$$need docker-compose"; \
	 [ -z "$$need" ] || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null || \
	   { echo "ERROR: image-test needs$$need (install them, or run as root with apt)" >&2; exit 1; }; \
	   echo "installing$$need"; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$need >/dev/null; }

train: setup ## train every model in models.yaml (DATA_DIR=/path for real data, DOWNLOAD=1 to fetch)
	$(PY) -m training.run $(TRAIN_ARGS)
train-%: setup
	$(PY) -m training.run $* $(TRAIN_ARGS)

export: setup ## export checkpoints to deployable artifacts (ONNX + parity gate)
	$(PY) -m export.run
export-%: setup
	$(PY) -m export.run $*

ARCHIVE_ARGS = $(if $(VERSION),--version $(VERSION)) $(if $(DEVICE),--device-type $(DEVICE))
archive: setup ## pack one .mar per model and version into model_store/ (DEVICE=gpu for the GPU image)
	$(PY) -m export.archive $(ARCHIVE_ARGS)
archive-%: setup
	$(PY) -m export.archive $* $(ARCHIVE_ARGS)

serve: setup ## start TorchServe in the background, register every archive, wait until each answers
	$(PY) -m genai_ops.serve start

stop: setup ## stop TorchServe; returns when the processes are gone and the ports are free
	$(PY) -m genai_ops.serve stop

status: setup ## show the server and its models
	$(PY) -m genai_ops.serve status

smoke: setup ## one sample request to every served model
	$(PY) -m genai_ops.serve smoke

ctl: setup ## lifecycle tool on the running server: make ctl ARGS="models | describe cnn | scale gan --min 2 --max 2 | token rotate | --help"
	$(PY) -m genai_ops.ctl $(ARGS)

models: setup ## every registered model version: default, workers, batching
	$(PY) -m genai_ops.ctl models

promote: setup ## MODEL=cnn VERSION=1.1: register, wait READY, smoke, set default (old default kept for rollback; recorded in run/state.json)
	@[ -n "$(MODEL)" ] && [ -n "$(VERSION)" ] || { echo "usage: make promote MODEL=<model> VERSION=<x.y>" >&2; exit 2; }
	$(PY) -m genai_ops.ctl promote $(MODEL) $(VERSION)

rollback: setup ## MODEL=cnn: make the previous default the default again
	@[ -n "$(MODEL)" ] || { echo "usage: make rollback MODEL=<model>" >&2; exit 2; }
	$(PY) -m genai_ops.ctl rollback $(MODEL)

USERS    ?= 16
DURATION ?= 30s
LOAD_HOST ?= http://127.0.0.1:8080
loadtest: setup ## Locust against the running server (MODEL=cnn USERS=16 DURATION=30s); reports/ gets CSV + HTML
	mkdir -p reports
	GENAI_MODELS=$(MODEL) $(PY) -m locust -f loadtests/locustfile.py --headless -u $(USERS) -r $(USERS) -t $(DURATION) \
	  --host $(LOAD_HOST) --csv reports/loadtest-$(or $(MODEL),all) --html reports/loadtest-$(or $(MODEL),all).html --only-summary

bench-serving: setup ## served vs in-process, vs the seeds' FastAPI path, batching sweep, vs the FastAPI/LitServe peers (private TorchServe on make all's archives); writes docs/BENCHMARKS.md
	$(PY) -m loadtests serving --duration $(or $(BENCH_SECONDS),10)

bench-peers: setup ## only the peers part of bench-serving: TorchServe REST + gRPC vs FastAPI and LitServe peers vs the in-process handler, cnn/gan at 1/4/16 users, 3 rotated rounds
	$(PY) -m loadtests serving --parts peers --duration $(or $(BENCH_SECONDS),10)

bench-cuts: setup ## each cost cut on the cnn/gan path measured alone (in-process pairs) + TorchServe settings (workers, netty threads) served; writes docs/BENCHMARKS.md
	$(PY) -m loadtests serving --parts cuts,settings --duration $(or $(BENCH_SECONDS),10)

bench-batching: setup ## only the batching-policy sweep of bench-serving (cnn, gan; plots in docs/bench/)
	$(PY) -m loadtests serving --parts sweep --duration $(or $(BENCH_SECONDS),10)

bench-samplers: setup ## ORT vs torch reverse diffusion, batched vs serial Langevin (needs train + export); writes docs/BENCHMARKS.md
	$(PY) -m loadtests samplers

bench-gpt2: setup ## GPT-2 124M-shape tok/s: eager generate vs our ONNX Runtime loop (random weights); writes docs/BENCHMARKS.md
	$(PY) -m loadtests gpt2

bench-gpt2-served: setup ## gpt2_qa at the 124M shape served by a private TorchServe vs the raw loop: tok/s at 1 and 8 clients, streaming first token
	$(PY) -m loadtests gpt2-served

bench-iterative: setup ## continuous batching of gpt2_qa/diffusion/ebm: small-behind-big, disconnects, gpt2 124M with Poisson clients, slice sweep; writes docs/BENCHMARKS.md
	$(PY) -m loadtests iterative

bench-grammar: setup ## tok/s with and without a grammar mask (QA format, a JSON schema) at batch 1 and 8, 124M shape; writes docs/BENCHMARKS.md
	$(PY) -m loadtests grammar --write

grammar-eval: setup ## strict vs free answer format on make all's gpt2_qa versions (1.0, 2.0, 2.1): format, EM, F1 at greedy / T 0.7 / 1.0 / 1.3
	$(PY) -m loadtests grammar-eval artifacts/gpt2_qa --limit 200 --out docs/bench/grammar-eval.json

bench-lowload: setup ## gpt2_qa, diffusion, ebm at one client: engine vs in-process handler vs served, slices per request, first token; writes docs/BENCHMARKS.md
	$(PY) -m loadtests lowload

bench-floor: setup ## TorchServe's own path with a no-op handler (maxBatchDelay 1 and 0) vs a FastAPI no-op route, and cnn/gan vs the FastAPI peer and the seed app with TorchServe's time split, 1 and 4 users; writes docs/BENCHMARKS.md
	$(PY) -m loadtests floor

heavy: setup ## 160 diffusion requests of 16 x 50 at once against make serve: each answered within max_wait_s or refused at once; writes docs/RELIABILITY.md
	$(PY) -m loadtests heavy

bench: bench-samplers bench-gpt2 bench-gpt2-served bench-serving bench-iterative bench-grammar bench-lowload bench-floor ## every benchmark (after `make all`; each starts its own server)

gpu-check: setup ## every model built in-process with gpu_id 0: device used (and why), valid output, same seed alone = batched, ms vs CPU (MODEL=cnn, ARGS="--write" on a GPU machine writes docs/BENCHMARKS.md)
	$(PY) -m loadtests gpu-check $(MODEL) $(ARGS)

reliability: setup ## against `make serve`: 500+ hostile requests per model, worker and JVM kills, overload, a soak (SOAK_SECONDS, default 600) -> docs/RELIABILITY.md
	$(PY) -m loadtests reliability --soak-seconds $(or $(SOAK_SECONDS),600)

soak: setup ## only the soak (SOAK_SECONDS=600): RSS/PSS of the JVM and every worker under mixed load -> docs/RELIABILITY.md
	$(PY) -m loadtests soak --soak-seconds $(or $(SOAK_SECONDS),600)

gallery: setup ## samples from every image model on the running server -> docs/gallery/*.png + index.html
	$(PY) -m genai_ops.gallery

curl-examples: setup ## print working curl examples with the current token
	$(PY) -m genai_ops.serve curl

all: setup ## fresh clone -> every model trained, exported, archived and served as it becomes ready, fastest first (curl line per model as it comes up; stage times at the end)
	$(PY) -m genai_ops.pipeline $(TRAIN_ARGS)

TORCH_INDEX_URL ?= https://download.pytorch.org/whl/cpu
BASE_IMAGE      ?= python:3.11-slim-bookworm
image: ## docker build the CPU image (BASE_IMAGE=..., TORCH_INDEX_URL= for PyPI's torch) with make all's model_store/ baked in
	docker build -f docker/Dockerfile --build-arg BASE_IMAGE=$(BASE_IMAGE) --build-arg TORCH_INDEX_URL=$(TORCH_INDEX_URL) -t genai-serve:cpu .

image-test: setup kserve-venv docker-tools ## build the CPU, Prometheus and KServe images and check them from outside (root; after make all; ARGS="--parts cpu")
	$(PY) docker/imagetest/run.py $(ARGS)

lint-docker: setup ## hadolint on every Dockerfile (rules ignored in .hadolint.yaml, with reasons)
	$(VENV)/bin/hadolint --config .hadolint.yaml docker/Dockerfile docker/Dockerfile.gpu docker/Dockerfile.kserve docker/prometheus/Dockerfile

validate-k8s: setup ## every manifest under deploy/ against the pinned Kubernetes schemas (offline, strict)
	$(PY) deploy/validate.py

kserve-bundle: setup ## dist/kserve/: config/config.properties + model-store/*.mar for KServe's TorchServe runtime
	$(PY) -m export.kserve_bundle $(MODEL)

test: setup kserve-venv promtool ## unit tests + end-to-end tests against a real TorchServe
	$(PY) -m pytest -q -ra

test-unit: setup kserve-venv promtool
	$(PY) -m pytest -q -ra -m "not e2e"

test-e2e: setup kserve-venv
	$(PY) -m pytest -q -ra -m e2e

clean: ## remove generated files (keeps .venv; `make distclean` removes it too)
	-$(PY) -m genai_ops.serve stop 2>/dev/null
	rm -rf checkpoints artifacts run logs reports dist key_file.json model_store/*.mar .pytest_cache

distclean: clean
	rm -rf $(VENV)
