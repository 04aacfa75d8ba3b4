"""genai-serve's worker package: what a TorchServe worker runs, and all it runs (shipped inside every .mar with the
model's handler). Networks, samplers, the step scheduler and engines, request schemas, envelopes, imaging, runtime
(sessions, devices, threads), gpt2/ and text/. No TorchServe import, and no server, test or operations code
(genai_ops/ starts and manages the server; tests/unit/test_package_split.py keeps the line).
"""
