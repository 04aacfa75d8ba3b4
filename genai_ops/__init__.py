"""genai-serve operations: what runs beside TorchServe, never inside a worker (container runtimes, their checks)."""
