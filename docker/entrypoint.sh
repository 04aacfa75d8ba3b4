#!/bin/sh
# Container entry point. All start-up logic lives in genai_ops/container.py (render the config with the
# binds this deployment sets, start TorchServe in the foreground, register the registry's models, set the
# default versions, renew keys, stop cleanly on SIGTERM), so the tests run the same code on the host.
# `exec` makes that Python process PID 1's replacement: it receives SIGTERM from `docker stop` / Kubernetes.
set -eu
cd "${GENAI_WORKDIR:-.}"
exec "${PYTHON:-python}" -m genai_ops.container "$@"
