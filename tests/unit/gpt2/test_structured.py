"""gpt2_qa's constrained decoding and the API features around it, on the tiny exported GPT-2s: the strict answer
format, JSON under response_format, logprobs, priority, tokenize/detokenize, and rows under different grammars (or
none) sharing one batch with the same tokens as alone."""
import json

import numpy as np
import pytest

from genai_serve.gpt2 import template
from genai_serve.gpt2.decode import DecodeBatch, Row, choose, generate
from genai_serve.gpt2.grammar import Grammars
from genai_serve.scheduler import Scheduler, Update
from loadtests.inprocess import Frontend


def ask(handler, ctx, bodies):
    """Send bodies together; a body's "url_path" key is sent as TorchServe's url_path header instead."""
    fe = Frontend(handler, ctx)
    rids = []
    for body in bodies:
        body = dict(body)
        path = body.pop("url_path", None)
        rids.append(fe.submit(body, {"url_path": path} if path else None))
    fe.run()
    return [fe.responses[rid] for rid in rids]

QA = {"question": "Where did Julia live?", "context": "Julia lived in the town of Thornmoor."}
CHAT = {"url_path": "v1/chat/completions"}
COMPLETIONS = {"url_path": "v1/completions"}
SCHEMA = {"type": "object", "properties": {"city": {"type": "string", "maxLength": 12}, "year": {"type": "integer"}},
          "required": ["city", "year"], "additionalProperties": False}


def chat(body, **extra):
    return {"messages": [{"role": "system", "content": QA["context"]}, {"role": "user", "content": QA["question"]}],
            **body, **extra}


@pytest.fixture
def h(gpt2_handler):
    handler, ctx = gpt2_handler("2.0")
    return handler, ctx


# -- the strict format ------------------------------------------------------------------------------------
@pytest.mark.parametrize("temperature", [0.0, 0.7, 1.0, 1.3, 3.0])
def test_strict_format_is_produced_by_the_model_under_the_mask_at_any_temperature(h, temperature):
    handler, ctx = h
    n = handler.grammars.strict_min_tokens
    [body] = [r.json() for r in ask(handler, ctx, [{**QA, "format": "strict", "temperature": temperature,
                                                    "max_new_tokens": n, "num_responses": 4, "seed": 5}])]
    assert body["format"] == "strict" and body["format_enforced"] is False
    for r in body["responses"]:  # never wrapped afterwards: the text is what the model generated
        assert r["format_ok"] and template.format_ok(r["text"]) and r["finish_reason"] == "eos", r
        assert template.extract_answer(r["text"])  # an answer span between them


def test_a_model_writing_the_suffix_when_the_budget_runs_low_finishes_it_instead_of_starting_it_again(h):
    """The budget forces an ending when the tokens left are down to the suffix's: where the text already ends
    inside the suffix, the ending is the rest of it (the shortest that completes the match), not a second suffix."""
    handler, _ = h
    grammars, tok = handler.grammars, handler.tokenizer
    written = " " + template.PREFIX + " the old road " + template.SUFFIX[:-len("estions.")]  # "... any other qu"
    row = grammars.strict()
    for t in tok.encode(written):
        row.accept(t)
    left, tokens = len(grammars.suffix), []
    while not row.complete:
        mask = row.allowed(left)
        assert mask.sum() == 1  # forced
        tokens.append(int(np.flatnonzero(mask)[0]))
        row.accept(tokens[-1])
        left -= 1
    assert tok.decode(tokens) == "estions."
    fresh = grammars.strict()  # in the answer, not the suffix: the whole suffix ends it
    for t in tok.encode(" " + template.PREFIX + " the old road"):
        fresh.accept(t)
    mask = fresh.allowed(len(grammars.suffix))
    assert mask.sum() == 1 and int(np.flatnonzero(mask)[0]) == grammars.suffix[0]


def test_free_format_is_the_default_and_strict_needs_room_and_a_question(h):
    handler, ctx = h
    free, short, text = ask(handler, ctx, [{**QA, "max_new_tokens": 8},
                                           {**QA, "format": "strict", "max_new_tokens": 8},
                                           {"start_word": "The", "format": "strict", "length": 40}])
    assert free.json()["format"] == "free"
    assert short.status == 400 and short.json()["field"] == "max_new_tokens"
    assert text.status == 400 and text.json()["field"] == "format"


# -- mixed batches --------------------------------------------------------------------------------------
def rows_for(grammars, prompt, seeds):
    """Three rows: strict format, a JSON schema, no grammar."""
    make = [grammars.strict, lambda: grammars.json_schema(SCHEMA), lambda: None]
    return [Row(list(prompt), 40, 1.0, None, 1.0, np.random.default_rng(s), grammar=m(), logprobs=2)
            for m, s in zip(make, seeds)]


def test_rows_under_different_grammars_or_none_give_the_same_tokens_alone_batched_and_joined_mid_loop(h):
    handler, _ = h
    step, tok = handler.engine.batch.step, handler.tokenizer
    prompt = tok.encode(template.prompt(QA["question"], QA["context"]))
    alone = [generate(step, [row], handler.eos)[0] for row in rows_for(handler.grammars, prompt, [1, 2, 3])]
    together = generate(step, rows_for(handler.grammars, prompt, [1, 2, 3]), handler.eos)
    batch = DecodeBatch(step, handler.eos)
    first, *late = rows_for(handler.grammars, prompt, [1, 2, 3])
    batch.prefill([Row(tok.encode("Once upon a time"), 60, 1.0, rng=np.random.default_rng(9))])
    batch.decode()
    batch.prefill([first])
    for _ in range(3):
        batch.decode()
    batch.prefill(late)  # joined mid-loop, beside a free row and a grammar row already decoding
    while len(batch):
        batch.decode()
    for a, b, c in zip(alone, together, [first, *late]):
        assert a.tokens == b.tokens == c.tokens  # identical tokens; logprobs equal up to float rounding
        lp = lambda row: [v for _, v, _ in row.token_logprobs]
        assert lp(a) == pytest.approx(lp(b), abs=1e-5) and lp(a) == pytest.approx(lp(c), abs=1e-5)
    assert template.format_ok(tok.decode(alone[0].tokens))
    assert alone[0].grammar is not None and len(batch) == 0  # the grammar state went with its row


def test_a_step_over_some_rows_leaves_the_others_as_if_it_had_not_happened(h):
    handler, _ = h
    step, tok = handler.engine.batch.step, handler.tokenizer
    make = lambda s: Row(tok.encode("Once upon a time"), 12, 1.0, rng=np.random.default_rng(s))
    alone = [generate(step, [make(s)], handler.eos)[0].tokens for s in (1, 2)]
    batch = DecodeBatch(step, handler.eos)
    a, b = make(1), make(2)
    batch.prefill([a, b])
    i = 0
    while len(batch):
        batch.decode(only={id(a)} if i % 3 and not a.finished else None)  # b waits two steps in three
        i += 1
    assert [a.tokens, b.tokens] == alone


# -- JSON under response_format ------------------------------------------------------------------------------
def test_json_schema_and_json_object_answers_parse_and_a_schema_compiles_once(h):
    handler, ctx = h
    fmt = {"type": "json_schema", "json_schema": {"name": "place", "schema": SCHEMA, "strict": True}}
    before = handler.grammars.compiled
    replies = ask(handler, ctx, [chat({"response_format": fmt, "max_tokens": 60, "seed": s, "temperature": 1.0}, **CHAT)
                                 for s in range(3)] + [
        chat({"response_format": {"type": "json_object"}, "max_tokens": 60, "seed": 1, "temperature": 0}, **CHAT)])
    for r in replies[:3]:
        choice = r.json()["choices"][0]
        if choice["finish_reason"] == "stop":
            got = json.loads(choice["message"]["content"])
            assert set(got) == {"city", "year"} and isinstance(got["year"], int)
        else:  # the grammar could not finish within max_tokens: OpenAI's "length"
            assert choice["finish_reason"] == "length"
    assert handler.grammars.compiled - before == 2  # three requests of one schema + one json_object: two grammars
    last = replies[3].json()["choices"][0]
    assert last["finish_reason"] == "length" or isinstance(json.loads(last["message"]["content"]), dict)


def test_a_grammar_that_cannot_finish_within_max_tokens_ends_with_length(h):
    handler, ctx = h
    fmt = {"type": "json_schema", "json_schema": {"name": "x", "schema": SCHEMA}}
    [r] = ask(handler, ctx, [chat({"response_format": fmt, "max_tokens": 3}, **CHAT)])
    assert r.json()["choices"][0]["finish_reason"] == "length"


@pytest.mark.parametrize("fmt", [
    {"type": "xml"},
    {"type": "json_schema", "json_schema": {"name": "x"}},
    {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "frob"}}},
    {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "string", "pattern": "(?<=a)b"}}},
    {"type": "json_schema", "json_schema": {"name": "x", "schema": {"$ref": "http://example.com/s.json"}}},
])
def test_an_unsupported_response_format_is_a_400_naming_it(h, fmt):
    handler, ctx = h
    for path in (CHAT, COMPLETIONS):
        body = chat({"response_format": fmt}, **path) if path is CHAT else {"prompt": "The", "response_format": fmt,
                                                                          **path}
        [r] = ask(handler, ctx, [body])
        assert r.status == 400 and r.json()["error"]["param"] == "response_format", r.json()


# -- logprobs ---------------------------------------------------------------------------------------------
def test_logprobs_are_those_of_the_distribution_sampled_from():
    logits = np.array([2.0, 1.0, 0.5, -1.0, 3.0], np.float32)
    allowed = np.array([True, True, True, True, False])
    row = Row([], 4, temperature=0.5, top_k=None, top_p=1.0, rng=np.random.default_rng(0), logprobs=3)
    tok = choose(logits, row, allowed)
    s = np.where(allowed, logits.astype(np.float64) / 0.5, -np.inf)
    want = s - np.log(np.exp(s - s.max()).sum()) - s.max()
    got_tok, got_lp, top = row.token_logprobs[0]
    assert got_tok == tok != 4 and got_lp == pytest.approx(want[tok])
    assert [t for t, _ in top] == [0, 1, 2] and [v for _, v in top] == pytest.approx(want[[0, 1, 2]])
    greedy = Row([], 4, logprobs=0)
    assert choose(logits, greedy, allowed) == 0 and greedy.token_logprobs[0][2] == []
    assert greedy.token_logprobs[0][1] == pytest.approx(float(logits[0] - np.log(np.exp(logits[:4]).sum())))


def test_logprobs_in_openai_shapes_streamed_and_not_and_in_the_native_api(h):
    handler, ctx = h
    c, cs, p, native = ask(handler, ctx, [
        chat({"logprobs": True, "top_logprobs": 3, "max_tokens": 5, "seed": 1}, **CHAT),
        chat({"logprobs": True, "top_logprobs": 3, "max_tokens": 5, "seed": 1, "stream": True}, **CHAT),
        {"prompt": "Once upon", "logprobs": 2, "max_tokens": 5, "seed": 1, **COMPLETIONS},
        {**QA, "logprobs": 2, "max_new_tokens": 5, "seed": 1, "temperature": 1.0}])
    content = c.json()["choices"][0]["logprobs"]["content"]
    assert len(content) == c.json()["usage"]["completion_tokens"]
    assert "".join(e["token"] for e in content) == c.json()["choices"][0]["message"]["content"]
    assert all(len(e["top_logprobs"]) <= 3 and e["logprob"] <= 0 for e in content)
    streamed = [json.loads(x[6:]) for x in "".join(cs.chunks).split("\n\n") if x.startswith("data: {")]
    got = [e for chunk in streamed for ch in chunk["choices"] if ch["logprobs"] for e in ch["logprobs"]["content"]]
    assert got == content  # same seed, same tokens and values, streamed
    lp = p.json()["choices"][0]["logprobs"]
    assert len(lp["tokens"]) == len(lp["token_logprobs"]) == len(lp["top_logprobs"]) == len(lp["text_offset"])
    assert "".join(lp["tokens"]) == p.json()["choices"][0]["text"]
    entries = native.json()["responses"][0]["logprobs"]
    assert len(entries) == native.json()["completion_tokens"] and all(len(e["top_logprobs"]) <= 2 for e in entries)
    [bad] = ask(handler, ctx, [chat({"logprobs": True, "top_logprobs": 21}, **CHAT)])
    assert bad.status == 400 and bad.json()["error"]["param"] == "top_logprobs"


# -- tokenize / detokenize ------------------------------------------------------------------------------------
def test_tokenize_and_detokenize_in_vllms_shapes(h):
    handler, ctx = h
    t, m, bad = ask(handler, ctx, [{"prompt": "Once upon a time", "url_path": "tokenize", "return_token_strs": True},
                                   {**chat({}), "url_path": "tokenize"},
                                   {"tokens": [-1], "url_path": "detokenize"}])
    body = t.json()
    assert body["tokens"] == handler.tokenizer.encode("Once upon a time") and body["count"] == len(body["tokens"])
    assert body["max_model_len"] == 512 and "".join(body["token_strs"]) == "Once upon a time"
    assert m.json()["tokens"] == handler.tokenizer.encode(template.prompt(QA["question"], QA["context"]))
    assert bad.status == 400 and bad.json()["error"]["param"] == "tokens"
    [d] = ask(handler, ctx, [{"tokens": body["tokens"], "url_path": "detokenize"}])
    assert d.json() == {"prompt": "Once upon a time"}


# -- priority ---------------------------------------------------------------------------------------------
class Steps:
    """An engine whose requests need `steps` steps each; it records who ran in each step."""

    def __init__(self):
        self.calls = []

    def total_steps(self, job):
        return job["steps"]

    def rows(self, job):
        return 1

    def start(self, job):
        return {"job": job, "done": 0}

    def step(self, states):
        self.calls.append([s["job"]["name"] for s in states])
        for s in states:
            s["done"] += 1
        return [Update([{"n": s["done"]}], {"ok": 1} if s["done"] == s["job"]["steps"] else None) for s in states]


class Job(dict):
    @property
    def priority(self):
        return self["priority"]


def test_higher_priority_steps_first_and_the_starvation_guard_still_holds():
    engine = Steps()
    sched = Scheduler(engine, 10_000, 0.0, step_rows=2, max_skips=4)
    for name in ("low1", "low2"):
        sched.submit(name, Job(name=name, steps=50, priority=0))
    sched.run_slice()
    sched.submit("high", Job(name="high", steps=50, priority=5))  # the most work left, but the highest priority
    sched.run_slice()
    assert "high" in engine.calls[-1]
    for _ in range(10):
        sched.run_slice()
    ran = [c for c in engine.calls[1:]]
    assert all("high" in c for c in ran)  # every step
    assert {"low1", "low2"} <= {n for c in ran for n in c}  # the guard: a low one passed over 4 times goes first
    assert all(len(c) <= 2 for c in engine.calls)


def test_priority_is_accepted_by_both_apis_and_reaches_the_scheduler(h):
    handler, ctx = h
    handler.scheduler.slice_s = 0.0
    fe = Frontend(handler, ctx)
    a = fe.submit({**QA, "priority": 3, "max_new_tokens": 30})
    b = fe.submit(chat({"priority": -2, "max_tokens": 30}), CHAT)
    fe.step()
    assert sorted(e.priority for e in handler.scheduler.entries.values()) == [-2, 3]
    fe.run()
    assert fe.responses[a].status == fe.responses[b].status == 200
    [bad] = ask(handler, ctx, [{**QA, "priority": "high"}])
    assert bad.status == 400 and bad.json()["field"] == "priority"


def test_native_streamed_logprobs_cover_every_token_once(h):
    handler, ctx = h
    body = {**QA, "logprobs": 1, "max_new_tokens": 12, "seed": 2, "temperature": 1.0}
    streamed, plain = ask(handler, ctx, [{**body, "stream": True}, body])
    lines = streamed.lines()
    got = [e for line in lines if line["type"] == "token" for e in line.get("logprobs", [])]
    final = [line for line in lines if line["type"] == "final"][0]
    assert got == final["responses"][0]["logprobs"] == plain.json()["responses"][0]["logprobs"]
    assert len(got) == final["completion_tokens"]


class RefusingMatcher:
    """A matcher that admits every token and then refuses the first one consumed (an error state)."""

    def __init__(self, vocab):
        self.vocab, self.err = vocab, None

    def compute_bitmask(self):
        return np.packbits(np.ones(self.vocab, bool), bitorder="little").tobytes()

    def consume_token(self, token):
        self.err = f"token {token} refused"
        return False

    def is_error(self):
        return self.err is not None

    def get_error(self):
        return self.err

    def is_accepting(self):
        return False

    def is_stopped(self):
        return self.err is not None


def test_a_grammar_that_errors_never_ends_its_row_as_a_stop(h):
    """The guarantee: "stop" under a grammar means its text is whole; a matcher in an error state ends the row
    unfinished ("length"), whatever token came."""
    from genai_serve.gpt2.grammar import Constraint

    handler, _ = h
    vocab = handler.grammars.vocab
    constraint = Constraint(RefusingMatcher(vocab), vocab)
    row = Row(handler.tokenizer.encode("Once upon a time"), 5, 1.0, None, 1.0, np.random.default_rng(0),
              grammar=constraint)
    generate(handler.engine.batch.step, [row], handler.eos)
    assert row.finished and not row.stopped_at_eos and row.finish_reason == "length"
    assert constraint.error == f"token {row.tokens[0]} refused" and len(row.tokens) == 1
