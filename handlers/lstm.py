"""lstm: word-level LSTM generator, one ONNX Runtime call per token for the whole batch. Same request and
response as the bigram, with "model": "lstm".

The exported graph is one step (tokens, h, c -> logits, h, c); the loop lives in genai_serve/text/rnn.py:
every request of the batch reads <s> + its start words and then samples with its own generator, so the
same seed gives the same text alone or batched. Unknown start words are fed as <unk> (an embedding trained
by input dropout to stand for "a word we do not know") and returned as the client wrote them.
"""
import json

from genai_serve.runtime import make_session
from genai_serve.text.generation import parse_generation, response
from genai_serve.text.rnn import Row, generate_batch
from genai_serve.text.tokenize import Vocab
from handlers.base import BaseHandler


class LstmHandler(BaseHandler):
    def load(self):
        self.session = make_session(self.model_dir / "model.onnx", self.threads, self.gpu_id)
        inputs = self.session.get_inputs()  # (tokens, h, c): names and the hidden size come from the graph
        self.names = [i.name for i in inputs]
        self.hidden = int(inputs[1].shape[2])
        self.vocab = Vocab(json.loads((self.model_dir / "vocab.json").read_text())["tokens"])

    def step(self, tokens, h, c):
        return self.session.run(None, dict(zip(self.names, (tokens, h, c))))

    def parse(self, decoded, params):
        return parse_generation(params)

    def infer(self, items):
        v = self.vocab
        rows = [Row([v.bos, *v.encode(req.start)], req.budget, req.how) for req in items]
        outs = generate_batch(self.step, rows, self.hidden, v.eos, banned=(v.bos, v.unk))
        return [response("lstm", req, [v.tokens[i] for i in ids]) for req, ids in zip(items, outs)]
