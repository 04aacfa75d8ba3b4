"""gpt2_qa: question answering in a fixed format (and plain text continuation) from GPT-2, served by our own
decoding loop over an ONNX Runtime session with the KV cache (genai_serve/gpt2/).

QA: {"question", "context"?, "max_new_tokens"?, "temperature"?, "top_p"?, "top_k"?, "num_responses"?, "seed"?,
"enforce_format"?, "stream"?} -> {"answer", "answers", "format_ok", "model_version", "prompt_tokens",
"completion_tokens", "responses": [...], ...}. Text: {"start_word", "length"} -> {"generated_text", ...}.
Seed 1's and seed 2's bodies work as they are (genai_serve/gpt2/service.py says how their fields map).

Batching: every response of every request in the batch is one row of one decoding loop (left padding,
per-row settings, generator and stop), so 8 requests x num_responses share each network call.
"stream": true answers NDJSON: {"type": "token", "response": k, "text": delta} lines as tokens are chosen,
then {"type": "final", ...the usual body}.
"""
import json

from genai_serve.gpt2.decode import generate
from genai_serve.gpt2.onnx_step import OnnxDecoder
from genai_serve.gpt2.service import StreamText, parse, response
from genai_serve.gpt2.tokenizer import Tokenizer
from genai_serve.runtime import make_session
from handlers.base import BaseHandler, StreamFinal, seed_or_fresh


class Gpt2QaHandler(BaseHandler):
    def load(self):
        self.decoder = OnnxDecoder(make_session(self.model_dir / "model.onnx", self.threads, self.gpu_id))
        self.tokenizer = Tokenizer(self.model_dir / "tokenizer")
        self.generation = json.loads((self.model_dir / "generation.json").read_text())
        self.eos = int(self.generation["eos_token_id"])
        self.fine_tuned = self.generation.get("stage") in ("sft", "rl")
        self.default_max_new = int(self.config.get("default_max_new_tokens", 64))

    def parse(self, decoded, params):
        return parse(params, self.tokenizer, self.eos, int(self.generation["n_positions"]), seed_or_fresh(params.seed),
                     self.default_max_new, self.generation.get("stage", "base"))

    def infer(self, jobs):
        # 1. every response of every request is one row; `owner` maps a row back to (request, response index)
        rows, owner = [], []
        for i, job in enumerate(jobs):
            job_rows = job.rows()
            rows += job_rows
            owner += [(i, k) for k in range(len(job_rows))]
        # 2. one loop for the batch; streaming requests get each token's text as it is chosen
        streams = {r: StreamText(self.tokenizer) for r, (i, _) in enumerate(owner) if jobs[i].stream}

        def on_token(r, _token):
            if r in streams:
                i, k = owner[r]
                text = streams[r].delta(rows[r].tokens)
                if text:
                    self.send_partial(i, {"type": "token", "response": k, "text": text})

        generate(self.decoder, rows, self.eos, on_token=on_token if streams else None)
        for r, stream in streams.items():  # a character held back at the end (byte-level BPE) goes out now
            rest = stream.delta(rows[r].tokens, final=True)
            if rest:
                self.send_partial(owner[r][0], {"type": "token", "response": owner[r][1], "text": rest})
        # 3. split back per request
        out, start = [], 0
        for job in jobs:
            body = response(job, rows[start:start + job.num_responses], self.tokenizer, self.version, self.fine_tuned)
            start += job.num_responses
            out.append(StreamFinal(type="final", **body) if job.stream else body)
        return out
