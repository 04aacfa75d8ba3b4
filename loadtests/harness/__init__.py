"""The benchmark harness: what every suite under loadtests/ measures with. Layers, each importing only the ones
below it (tests/unit/test_bench_layers.py keeps it so):

  harness   loadtests/harness/: timing (median of alternating rounds, calls per second), a private TorchServe
            and the seed app on free ports, Locust runs and the CPU they record per process group, the in-process
            handler rates, streaming clients, the random-weight 124M gpt2_qa archive, the gRPC client,
            docs/BENCHMARKS.md sections; with loadtests/inprocess.py (a handler called as TorchServe calls it).
  targets   what the suites load: the locustfiles, the seed app, the FastAPI and LitServe peers.
  suites    one module per benchmark family (bench_*.py, gpu_check.py, reliability/): each imports the harness
            and the targets, never another suite.
  CLI       loadtests/cli.py (`python -m loadtests <suite> ...`): the only module that imports the suites.

Nothing under loadtests/ imports tests/.
"""
