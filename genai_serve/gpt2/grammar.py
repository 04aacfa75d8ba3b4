"""Constrained decoding for gpt2_qa: a grammar masks a row's logits at every step, so the text it generates is
valid by construction (the QA answer format, any JSON value, or a JSON schema).

The grammar engine is llguidance (pinned in pyproject.toml). It was compared with xgrammar on this tokenizer and
CPU (docs/STRUCTURED_OUTPUTS.md): xgrammar's masks are faster, but it imports torch, transformers and triton into
a worker that otherwise needs neither (673 MB resident against 119 MB), and llguidance has no dependencies.

  Grammars   one per model version: the llguidance tokenizer built from the exported tokenizer.json, and a
             bounded LRU cache of compiled grammars keyed by the grammar's text (a JSON schema compiles once per
             distinct schema; each row gets a copy of the compiled matcher, which is cheap).
  Constraint one per decoding row: its matcher advances with the row's tokens and goes when the row does.
             `allowed(remaining)` is the row's next-token mask; `accept(token)` advances it; `complete` is True
             once the text is a whole match, which ends the row (finish_reason "stop").

The strict QA format also knows its suffix: when the row's budget left is down to the suffix's tokens, the mask
admits only the tokens that finish the match soonest: the rest of the suffix where the model is already writing
it (" ... any other qu" -> "estions."), else the whole suffix. So the answer always ends in time, and a model
that writes the suffix itself is never made to start it again. A JSON grammar has no such rule: a row that runs
out of tokens ends with finish_reason "length", as OpenAI's does.
"""
from __future__ import annotations

import json
import re
import threading
from collections import OrderedDict

import numpy as np

from genai_serve.errors import InputError
from genai_serve.gpt2 import template

# The strict format: what the model is fine-tuned to produce (template.target), prefix and suffix generated
# under the mask; the answer span is one line of at least one character.
STRICT_REGEX = r" ?" + re.escape(template.PREFIX) + r" [^\n]+ " + re.escape(template.SUFFIX)
JSON_OPTIONS = {"whitespace_flexible": False}  # compact separators: no whitespace runs to sample forever


class Constraint:
    """A row's grammar state (see the module docstring)."""

    def __init__(self, matcher, vocab: int, endings: list[list[int]] | None = None, eos: int | None = None):
        """`endings`: token sequences that may finish the text, the first that fits wins; the last one (the whole
        suffix) finishes any answer, so its length is the budget left at which an ending is forced."""
        self.matcher, self.vocab, self.endings, self.eos = matcher, vocab, endings or [], eos
        self.window = len(self.endings[-1]) if self.endings else 0
        self.forced: list[int] = []  # the ending's tokens still to come, once the budget forces it

    def allowed(self, remaining: int) -> np.ndarray:
        """The tokens this row may choose next (bool, vocab), given `remaining` tokens of budget including it."""
        if self.endings and not self.forced and remaining <= self.window:
            self.forced = next((list(e) for e in self.endings if len(e) <= remaining and self._completes(e)), [])
        if self.forced:
            mask = np.zeros(self.vocab, bool)
            mask[self.forced[0]] = True
            return mask
        bits = np.frombuffer(self.matcher.compute_bitmask(), np.uint8)
        mask = np.unpackbits(bits, bitorder="little", count=self.vocab).astype(bool)
        if not mask.any() and self.eos is not None:  # a matcher in an error state admits nothing: end the row
            mask[self.eos] = True
        return mask

    def _completes(self, tokens: list[int]) -> bool:
        """`tokens` are admitted here and leave the text a whole match."""
        if self.matcher.validate_tokens(tokens) != len(tokens):
            return False
        trial = self.matcher.deep_copy()
        trial.consume_tokens(tokens)
        return trial.is_accepting()

    def accept(self, token: int) -> None:
        if self.forced and self.forced[0] == token:
            self.forced.pop(0)
        self.matcher.consume_token(token)

    @property
    def complete(self) -> bool:
        """The text so far is a whole match: the row ends here (a matcher that stopped on an error is not)."""
        return not self.matcher.is_error() and (self.matcher.is_accepting() or self.matcher.is_stopped())

    @property
    def error(self) -> str | None:
        """Why the matcher cannot go on (a token it refused), or None: the row then ends unfinished."""
        return self.matcher.get_error() if self.matcher.is_error() else None


class Grammars:
    """The compiled grammars of one model version (see the module docstring)."""

    def __init__(self, tokenizer_json: str, vocab: int, eos: int, encode, cache_size: int = 64):
        import llguidance

        self.llg = llguidance
        self.vocab, self.eos = vocab, eos
        self.tokenizer = llguidance.LLTokenizer(tokenizer_json, n_vocab=vocab, eos_token=eos)
        suffix = " " + template.SUFFIX
        self.suffix = encode(suffix)
        # the ways a strict answer can end from where the model is: every tail of the suffix tokenized alone,
        # shortest first (the most of it already written), and last the whole suffix, which ends any answer
        tails = {tuple(encode(suffix[k:])) for k in range(1, len(suffix))} - {tuple(self.suffix)}
        self.endings = sorted(tails, key=len) + [tuple(self.suffix)]
        # the least budget a strict answer needs: prefix, one answer token and the suffix, with room for the
        # model's own tokenization of the prefix
        self.strict_min_tokens = len(encode(" " + template.PREFIX)) + len(self.suffix) + 4
        self.cache_size = cache_size
        self._cache: OrderedDict[str, object] = OrderedDict()
        self._lock = threading.Lock()
        self.compiled = 0  # grammars compiled so far (the cache's misses)

    @classmethod
    def from_tokenizer(cls, tokenizer, vocab: int, eos: int, cache_size: int = 64) -> "Grammars":
        return cls(tokenizer.fast.to_str(), vocab, eos, tokenizer.encode, cache_size)

    def strict(self) -> Constraint:
        return Constraint(self._matcher(self.llg.LLMatcher.grammar_from_regex(STRICT_REGEX), "format"), self.vocab,
                          [list(e) for e in self.endings], self.eos)

    def json_object(self, field: str = "response_format") -> Constraint:
        return self.json_schema({"type": "object"}, field)

    def json_schema(self, schema: dict, field: str = "response_format") -> Constraint:
        """A row constrained to `schema`; an InputError naming `field` for a schema the engine cannot compile."""
        try:
            grammar = self.llg.LLMatcher.grammar_from_json_schema(json.dumps(schema), overrides=JSON_OPTIONS)
        except (ValueError, TypeError) as exc:
            raise InputError(f"{field}: the JSON schema is not valid: {exc}", field) from None
        return Constraint(self._matcher(grammar, field), self.vocab, eos=self.eos)

    def _matcher(self, grammar: str, field: str):
        with self._lock:
            proto = self._cache.get(grammar)
            if proto is not None:
                self._cache.move_to_end(grammar)
                return proto.deep_copy()
        error = self.llg.LLMatcher.validate_grammar(grammar, self.tokenizer)
        if error:
            raise InputError(f"{field}: unsupported schema: {error.splitlines()[0] if error else error}"[:500], field)
        proto = self.llg.LLMatcher(self.tokenizer, grammar, log_level=0)
        if proto.is_error():
            raise InputError(f"{field}: unsupported schema: {proto.get_error()}"[:500], field)
        with self._lock:
            self.compiled += 1
            self._cache[grammar] = proto
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return proto.deep_copy()
