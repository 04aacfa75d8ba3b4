"""gpt2_qa: question answering in a fixed format (and plain text continuation) from GPT-2, served by our own
decoding loop over an ONNX Runtime session with the KV cache (genai_serve/gpt2/), scheduled per token
(handlers/iterative.py, genai_serve/engines/gpt2.py).

Native API, POST /predictions/gpt2_qa[/<version>]:
  QA: {"question", "context"?, "max_new_tokens"?, "temperature"?, "top_p"?, "top_k"?, "num_responses"?, "seed"?,
  "enforce_format"?, "format"?: "free" | "strict", "logprobs"?: 0..20, "priority"?, "stream"?, "timeout_s"?} -> {"answer", "answers", "format_ok", "model_version",
  "prompt_tokens", "completion_tokens", "responses": [...], ...}. Text: {"start_word", "length"} ->
  {"generated_text", ...}. The seed apps' bodies work as they are (genai_serve/gpt2/service.py).
  "stream": true answers NDJSON: {"type": "token", "response": k, "text": delta} lines, then {"type": "final", ...}.
OpenAI API, POST /predictions/gpt2_qa/<version>/v1/completions | /v1/chat/completions, GET .../v1/models, with
  response_format (json_object, json_schema), logprobs and priority; POST .../tokenize and .../detokenize in
  vLLM's shapes (genai_serve/gpt2/openai_api.py). Grammars: genai_serve/gpt2/grammar.py.

Every response of every running request is one row of one decoding batch: a request joins at the next token
step and leaves when its rows end; each row has its own settings and generator, so a seed gives the same tokens
alone, joined mid-generation or shared.
"""
import json
from datetime import datetime

from genai_serve.engines.gpt2 import Gpt2Engine
from genai_serve.envelope import decode_request
from genai_serve.gpt2.grammar import Grammars
from genai_serve.gpt2.onnx_step import OnnxDecoder
from genai_serve.gpt2.openai_api import OpenAIApi
from genai_serve.gpt2.service import Gpt2NativeApi, parse
from genai_serve.gpt2.tokenizer import Tokenizer
from genai_serve.runtime import make_session
from genai_serve.schema import validate
from handlers.base import seed_or_fresh
from handlers.iterative import IterativeHandler


class Gpt2QaHandler(IterativeHandler):
    def load(self):
        self.tokenizer = Tokenizer(self.model_dir / "tokenizer")
        self.generation = json.loads((self.model_dir / "generation.json").read_text())
        self.eos = int(self.generation["eos_token_id"])
        self.default_max_new = int(self.config.get("default_max_new_tokens", 64))
        archived = self.card.get("archived_at")
        created = int(datetime.fromisoformat(archived).timestamp()) if archived else 0
        # The two APIs this model speaks; each job names the one that asked, which shapes its replies and body.
        self.default_format = self.config.get("default_format", "free")
        # one grammar engine per worker: compiled grammars are cached (at most grammar_cache distinct ones)
        self.grammars = Grammars.from_tokenizer(self.tokenizer, self.tokenizer.fast.get_vocab_size(), self.eos,
                                                int(self.config.get("grammar_cache", 64)))
        self.native = Gpt2NativeApi(self.tokenizer, self.version, self.generation.get("stage") in ("sft", "rl"))
        self.openai = OpenAIApi(f"{self.model_name}/{self.version}", self.tokenizer, self.default_max_new, created,
                                self.grammars, int(self.generation["n_positions"]))
        decoder = OnnxDecoder(make_session(self.model_dir / "model.onnx", self.threads, self.gpu_id))
        self.engine = Gpt2Engine(decoder, self.tokenizer, self.eos, lambda job, rows: job.api.final_body(job, rows))

    def api_for(self, url_path: str):
        """The native API on the model's own path; OpenAI's on anything after it (v1/..., an unknown path is
        OpenAI's 404 naming url_path)."""
        return self.openai if url_path else self.native

    def parse_request(self, request: dict, url_path: str = ""):
        if not url_path:
            return super().parse_request(request)
        decoded = decode_request(request, self.binary_fields)
        return self.openai.parse(url_path, decoded.params,
                                 lambda native: self.parse(decoded, validate(self.request_model, self.request_spec,
                                                                              native)))

    def parse(self, decoded, params):
        job = parse(params, self.tokenizer, self.eos, int(self.generation["n_positions"]), seed_or_fresh(params.seed),
                    self.default_max_new, self.generation.get("stage", "base"), self.grammars, self.default_format)
        job.api = self.native
        return job
