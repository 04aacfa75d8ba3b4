"""gpt2_qa: question answering in a fixed format (and plain text continuation) from GPT-2, served by our own
decoding loop over an ONNX Runtime session with the KV cache (genai_serve/gpt2/), scheduled per token
(handlers/iterative.py, genai_serve/engines/gpt2.py).

Native API, POST /predictions/gpt2_qa[/<version>]:
  QA: {"question", "context"?, "max_new_tokens"?, "temperature"?, "top_p"?, "top_k"?, "num_responses"?, "seed"?,
  "enforce_format"?, "stream"?, "timeout_s"?} -> {"answer", "answers", "format_ok", "model_version",
  "prompt_tokens", "completion_tokens", "responses": [...], ...}. Text: {"start_word", "length"} ->
  {"generated_text", ...}. Seed 1's and seed 2's bodies work as they are (genai_serve/gpt2/service.py).
  "stream": true answers NDJSON: {"type": "token", "response": k, "text": delta} lines, then {"type": "final", ...}.
OpenAI API, POST /predictions/gpt2_qa/<version>/v1/completions | /v1/chat/completions, GET .../v1/models
  (genai_serve/gpt2/openai_api.py).

Every response of every running request is one row of one decoding batch: a request joins at the next token
step and leaves when its rows end; each row has its own settings and generator, so a seed gives the same tokens
alone, joined mid-generation or shared.
"""
import json
from datetime import datetime

from genai_serve.engines.gpt2 import Gpt2Engine
from genai_serve.errors import InputError
from genai_serve.gpt2 import openai_api
from genai_serve.gpt2.onnx_step import OnnxDecoder
from genai_serve.gpt2.service import parse, response, row_text
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
        self.fine_tuned = self.generation.get("stage") in ("sft", "rl")
        self.default_max_new = int(self.config.get("default_max_new_tokens", 64))
        decoder = OnnxDecoder(make_session(self.model_dir / "model.onnx", self.threads, self.gpu_id))
        self.engine = Gpt2Engine(decoder, self.tokenizer, self.eos, self._final_body)

    @property
    def model_id(self) -> str:
        return f"{self.model_name}/{self.version}"

    def parse(self, decoded, params):
        return parse(params, self.tokenizer, self.eos, int(self.generation["n_positions"]), seed_or_fresh(params.seed),
                     self.default_max_new, self.generation.get("stage", "base"))

    # -- routing: the native API, or the OpenAI API on the v1/ paths ---------------------------------------
    def _api(self, idx: int) -> str | None:
        return openai_api.route(self._context.get_request_header(idx, "url_path") or "")

    def _is_openai(self, idx: int) -> bool:
        """The request came on a v1/ path (or an unknown one): its errors take OpenAI's shape."""
        try:
            return self._api(idx) is not None
        except InputError:
            return True

    def immediate(self, idx: int, request: dict) -> dict | None:
        if self._api(idx) == "models":
            archived = self.card.get("archived_at")
            created = int(datetime.fromisoformat(archived).timestamp()) if archived else 0
            return openai_api.models_list(self.model_id, created)
        return None

    def parse_request(self, decoded, idx: int):
        api = self._api(idx)
        if api is None:
            return super().parse_request(decoded, idx)
        try:
            native, stops = openai_api.to_native(api, decoded.params, self.default_max_new)
            params = validate(self.request_model, self.request_spec, native)
            job = self.parse(decoded, params)
        except InputError as exc:
            raise openai_api.openai_error(exc) from None
        job.api, job.stop = api, stops
        job.top_k = None  # OpenAI's API has no top-k: sample from the whole distribution (after top_p)
        job.openai = openai_api.new_request(api, decoded.params, self.model_id)
        return job, params

    def _final_body(self, job, rows) -> dict:
        if job.api == "native":
            return response(job, rows, self.tokenizer, self.version, self.fine_tuned)
        texts = [row_text(r, self.tokenizer) for r in rows]
        return openai_api.final_body(job.openai, texts, [r.finish_reason for r in rows], len(job.prompt_ids),
                                     sum(len(r.tokens) for r in rows))

    # -- rendering -------------------------------------------------------------------------------------------
    def content_type(self, job) -> str:
        if job is not None and job.api != "native" and job.stream:
            return openai_api.SSE
        return super().content_type(job)

    def render(self, reply, stream_started: bool) -> str:
        job = reply.job
        if job.api == "native":
            return super().render(reply, stream_started)
        if job.stream:
            return openai_api.sse(job.openai, reply.events, reply.final, reply.error)
        if reply.final is not None:
            return json.dumps(reply.final)
        return json.dumps(openai_api.error_body(reply.error)) if reply.error is not None else ""

    def error_body(self, idx: int, exc: InputError) -> dict:
        return openai_api.error_body(exc) if self._is_openai(idx) else exc.to_body()

    def overload_body(self, idx: int, exc) -> dict:
        if self._is_openai(idx):
            return openai_api.error_body(InputError(exc.message, None, 429))
        return super().overload_body(idx, exc)
