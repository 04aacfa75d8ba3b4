"""cnn: CIFAR-10 classification. Any decodable image -> {"pred_id", "pred_label", "probs", "topk"}.

Accepted inputs: raw image bytes (Content-Type image/* or application/octet-stream), a multipart field
`file` (seed 1's /predict_cifar10) or `image`, or JSON {"image": "<base64>", "topk": k}.
"""
import numpy as np

from genai_serve.errors import InputError
from genai_serve.imaging import CIFAR10_CLASSES, cnn_input, decode_image
from genai_serve.runtime import OnnxModel
from handlers.base import BaseHandler


class CnnHandler(BaseHandler):
    binary_fields = ("file", "image")

    def load(self):
        self.model = OnnxModel(self.model_dir / "model.onnx", self.threads, self.gpu_id)
        self.image_size = int(self.config.get("image_size", 64))
        self.classes = tuple(self.config.get("classes", CIFAR10_CLASSES))

    def parse(self, decoded, params):
        if decoded.raw is None:
            raise InputError("no image: send image bytes, a multipart field 'file', or JSON {'image': base64}", "image")
        img = decode_image(decoded.raw, decoded.raw_field or "image", draft_size=self.image_size)
        return cnn_input(img, self.image_size), params.topk

    def infer(self, items):
        batch = np.stack([x for x, _ in items])  # (B, 3, 64, 64): one ONNX Runtime call for the batch
        logits = self.model(batch).astype(np.float64)
        probs = np.exp(logits - logits.max(axis=1, keepdims=True))
        probs /= probs.sum(axis=1, keepdims=True)
        return [self._answer(p, k) for p, (_, k) in zip(probs, items)]

    def _answer(self, probs: np.ndarray, k: int) -> dict:
        order = np.argsort(-probs)[:k]
        best = int(order[0])
        return {
            "pred_id": best,
            "pred_label": self.classes[best],
            "probs": [round(float(p), 6) for p in probs],
            "topk": [{"id": int(i), "label": self.classes[int(i)], "prob": round(float(probs[i]), 6)} for i in order],
        }
