"""genai-serve: serving logic shared by training, export, archive, handlers and tests (no TorchServe imports)."""
