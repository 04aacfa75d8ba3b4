"""gpt2_qa reports where its ONNX Runtime decoder runs (runtime.worker_device), like every other model."""


def test_gpt2_qa_reports_its_onnxruntime_session(gpt2_handler):
    handler, _ = gpt2_handler("1.0")
    card = handler.describe()["device"]
    assert card["runtime"] == "onnxruntime" and "CPUExecutionProvider" in card["providers"]
    assert card["device"] in ("cpu", "cuda:0") and card["reason"]
