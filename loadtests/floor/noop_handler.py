"""A TorchServe handler that does nothing: every request in the batch gets `{}`. Served, it measures TorchServe's
own path (the batch aggregator, the JVM, the worker protocol) with no model behind it (loadtests/bench_floor.py)."""


class NoOpHandler:
    def initialize(self, context) -> None:
        self.initialized = True

    def handle(self, data: list, context) -> list[str]:
        return ["{}"] * len(data)
