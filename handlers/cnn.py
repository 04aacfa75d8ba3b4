"""cnn: CIFAR-10 classification. Any decodable image -> {"pred_id", "pred_label", "probs", "topk"}.

Accepted inputs: raw image bytes (Content-Type image/* or application/octet-stream), a multipart field
`file` (the sps-genai app's /predict_cifar10) or `image`, or JSON {"image": "<base64>", "topk": k}.

Clients that already hold arrays send one Open Inference Protocol tensor instead (genai_serve/oip.py) and get an
OIP response with the outputs `probs` (FP32 [1, 10]), `pred_id` (INT64 [1]) and `pred_label` (BYTES [1]):
  UINT8 [H, W, 3] or [1, H, W, 3]   RGB pixels of any size (a CIFAR array, a decoded photo): resized and normalised
                                    as an uploaded image is, without the PNG/JPEG decode
  FP32  [3, 64, 64] or [1, 3, 64, 64]  the network's input itself, already normalised (genai_serve.imaging.cnn_input)
"""
import numpy as np
from PIL import Image

from genai_serve import oip
from genai_serve.errors import InputError
from genai_serve.imaging import CIFAR10_CLASSES, MAX_IMAGE_PIXELS, cnn_input, decode_image
from genai_serve.runtime import OnnxModel
from handlers.base import BaseHandler


class CnnHandler(BaseHandler):
    binary_fields = ("file", "image")
    tensor_outputs = ("probs", "pred_id", "pred_label")
    max_tensor_elements = MAX_IMAGE_PIXELS * 3

    def load(self):
        self.model = OnnxModel(self.model_dir / "model.onnx", self.threads, self.gpu_id)
        self.image_size = int(self.config.get("image_size", 64))
        self.classes = tuple(self.config.get("classes", CIFAR10_CLASSES))

    def parse(self, decoded, params):
        if decoded.raw is None:
            raise InputError("no image: send image bytes, a multipart field 'file', or JSON {'image': base64}", "image")
        img = decode_image(decoded.raw, decoded.raw_field or "image", draft_size=self.image_size)
        return cnn_input(img, self.image_size), params.topk

    def parse_tensors(self, request: oip.Request):
        if len(request.inputs) != 1:
            raise InputError(f"cnn takes one input tensor, got {len(request.inputs)}", "inputs")
        _, x = request.inputs[0]
        size = self.image_size
        if x.ndim == 4 and x.shape[0] == 1:  # a batch of one: the OIP habit of a leading batch axis
            x = x[0]
        if x.dtype == np.uint8 and x.ndim == 3 and x.shape[2] == 3 and 0 not in x.shape:
            return cnn_input(Image.fromarray(x), size), request
        if x.dtype == np.float32 and x.shape == (3, size, size):
            return x, request
        raise InputError(f"inputs[0] must be UINT8 [H, W, 3] RGB pixels or FP32 [3, {size}, {size}] normalised input "
                         "(each optionally with a leading batch axis of 1)", "inputs[0].shape")

    def infer(self, items):
        batch = np.stack([x for x, _ in items])  # (B, 3, 64, 64): one ONNX Runtime call for the batch
        logits = self.model(batch).astype(np.float64)
        probs = np.exp(logits - logits.max(axis=1, keepdims=True))
        probs /= probs.sum(axis=1, keepdims=True)
        # an item's second half says how to answer: topk for the JSON answer, the OIP request for tensors
        return [self._tensors(p, how) if isinstance(how, oip.Request) else self._answer(p, how)
                for p, (_, how) in zip(probs, items)]

    def _answer(self, probs: np.ndarray, k: int) -> dict:
        order = np.argsort(-probs)[:k]
        best = int(order[0])
        return {
            "pred_id": best,
            "pred_label": self.classes[best],
            "probs": [round(float(p), 6) for p in probs],
            "topk": [{"id": int(i), "label": self.classes[int(i)], "prob": round(float(probs[i]), 6)} for i in order],
        }

    def _tensors(self, probs: np.ndarray, request: oip.Request) -> dict:
        best = int(np.argmax(probs))
        return oip.response(self.model_name, self.version, request, {
            "probs": probs[None].astype(np.float32), "pred_id": np.array([best], np.int64),
            "pred_label": np.array([self.classes[best]])})
