"""The GPT-2 step engine: every running request's rows (one per response) share one DecodeBatch; a step gives
every running row one token. Rows already decoding go first (one call); then the prompts of requests that
arrived since the last step run as one block and join the batch (one more call), so a new request waits for
at most the step in progress, not for anyone's whole answer.

Per step and row: stop sequences (the OpenAI API's `stop`) are checked on the decoded text, and streaming
requests get the text added since their last event ({"type": "token", "response": k, "text": delta}); text that
could still become a stop sequence, or ends inside a UTF-8 character, waits for the next step.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from genai_serve.gpt2.decode import DecodeBatch, Row
from genai_serve.gpt2.service import Job, token_logprobs
from genai_serve.scheduler import Update


@dataclass
class Gpt2State:
    job: Job
    rows: list[Row]
    sent: list[int]  # characters of each row's text already streamed
    sent_tokens: list[int] = field(default_factory=list)  # tokens of each row whose logprobs were streamed
    started: bool = False  # prompt block done, rows in the batch
    done: list[bool] = field(default_factory=list)


class Gpt2Engine:
    def __init__(self, step, tokenizer, eos: int, finish: Callable[[Job, list[Row]], dict]):
        self.batch = DecodeBatch(step, eos)
        self.tokenizer = tokenizer
        self.finish = finish  # (job, rows) -> the final body, in the request's API

    def total_steps(self, job: Job) -> int:
        return job.max_new_tokens

    def rows(self, job: Job) -> int:
        return job.num_responses

    def start(self, job: Job) -> Gpt2State:
        rows = job.rows()
        return Gpt2State(job, rows, [0] * len(rows), [0] * len(rows), done=[False] * len(rows))

    def retain(self, states: list[Gpt2State]) -> None:
        """The scheduler's running requests: rows of any other request (finished, abandoned, timed out) and rows
        that hit a stop sequence leave the batch."""
        wanted = {id(row) for state in states for row in state.rows}
        self.batch.retain(lambda row: id(row) in wanted and not row.finished)

    def step(self, states: list[Gpt2State]) -> list[Update]:
        """One token for the rows of `states` (the scheduler's pick for this step; with its step_rows that may be
        some of the running requests: the others keep their cache and wait)."""
        # 1. rows already decoding: one token each, one call
        self.batch.retain(lambda row: not row.finished)
        self.batch.decode(only={id(row) for state in states if state.started for row in state.rows})
        # 2. requests new since the last step: their prompts as one block, first token each, then they join
        new = [state for state in states if not state.started]
        if new:
            self.batch.prefill([row for state in new for row in state.rows])
            for state in new:
                state.started = True
        return [self._update(state) for state in states]

    def _update(self, state: Gpt2State) -> Update:
        events = []
        for k, row in enumerate(state.rows):
            if state.done[k]:
                continue
            if not (state.job.stop or state.job.stream):  # nothing to check or send: no decoding on the hot path
                state.done[k] = row.finished
                continue
            text = self.tokenizer.decode(row.tokens)
            cut = _first_stop(text, state.job.stop)
            if cut is not None:  # a stop sequence: the text ends before it, the row is finished
                row.text, row.finished, row.stopped_at_stop = text[:cut], True, True
                text = row.text
            state.done[k] = row.finished
            if state.job.stream:
                hold = 0 if row.finished else _held_back(text, state.job.stop)
                visible = text[:len(text) - hold]
                fresh = len(visible) > state.sent[k]
                event = {"type": "token", "response": k, "text": visible[state.sent[k]:]}
                if state.job.logprobs is not None and (fresh or row.finished) \
                        and len(row.token_logprobs) > state.sent_tokens[k]:
                    # the logprobs of the tokens since the last event go with the text they made
                    event["logprobs"] = token_logprobs(row.token_logprobs[state.sent_tokens[k]:], self.tokenizer)
                    state.sent_tokens[k] = len(row.token_logprobs)
                    fresh = True
                if fresh:
                    events.append(event)
                    state.sent[k] = len(visible)
        if all(state.done):
            return Update(events, self.finish(state.job, state.rows))
        return Update(events)


def _first_stop(text: str, stops) -> int | None:
    hits = [text.find(s) for s in stops if s and s in text]
    return min(hits) if hits else None


def _held_back(text: str, stops) -> int:
    """Characters at the end of `text` not to stream yet: an incomplete UTF-8 character (byte-level BPE can
    end a token inside one) or the start of a stop sequence."""
    hold = 1 if text.endswith("\ufffd") else 0
    for stop in stops:
        for n in range(min(len(stop) - 1, len(text)), 0, -1):
            if text.endswith(stop[:n]):
                hold = max(hold, n)
                break
    return hold
