"""gpt2_qa without TorchServe: the answer template and its metrics (template.py), the batched KV-cache
decoding loop over ONNX Runtime (decode.py, onnx_step.py) and the request -> rows -> response mapping
(service.py). Training (training/train_gpt2_*.py) and the handler (handlers/gpt2_qa.py) both import these,
so the template the model is trained on is the one it is served and scored with."""
