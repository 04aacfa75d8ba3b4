"""bigram: the sps-genai app's Laplace bigram generator, pure Python. {"start_word", "length"?, "mode"?, "temperature"?,
"top_k"?, "seed"?} -> {"generated_text", "model": "bigram", "mode", "seed"}.

No network and no torch: a batch is answered request by request from one in-memory table (each request
with its own generator), which costs microseconds per token.
"""
import json

from genai_serve.text.bigram import BigramModel
from genai_serve.text.generation import parse_generation, response
from handlers.base import BaseHandler


class BigramHandler(BaseHandler):
    def load(self):
        self.model = BigramModel.from_json(json.loads((self.model_dir / "bigram.json").read_text()))

    def parse(self, decoded, params):
        return parse_generation(params)

    def infer(self, items):
        return [response("bigram", req, self.model.generate(req.start, req.length, req.how)[len(req.start):])
                for req in items]
