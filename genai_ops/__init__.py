"""genai-serve operations: everything that starts, watches and manages TorchServe, never imported by a worker.

  server.py, serve.py     the launcher (`make serve`, `make stop`, `make smoke`): config, start, register, wait
  ctl.py, state.py        the lifecycle tool (`make ctl`, promote, rollback) and the state kept across restarts
  container.py, probe.py  the container entrypoint and its health probe
  registry.py             models.yaml, read by the pipeline, the launcher, the tests and the benchmarks
  checkpoint.py           checkpoints as the training and export pipeline writes and reads them
  gallery.py              `make gallery`
  worker_site/            put on the workers' path by the launcher: defers TorchServe's `import torch`
  kserve_runtime.py       the KServe runtime (KServe's model server in front of TorchServe), with kserve_tensors.py

What a worker runs is genai_serve/ (shipped inside every .mar with its handler); nothing here goes into an archive.
"""
