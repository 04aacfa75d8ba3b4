"""One call of the exported GPT-2 decoder (ONNX with past key values) as decode.Step.

Names come from the artifact: inputs input_ids, attention_mask, position_ids (when the graph has it) and
past_key_values.<i>.key/value; outputs logits and present.<i>.key/value in the same layer order. The first
call feeds a zero-length past (n, heads, 0, head_dim), so one graph serves the prompt and every later token.
"""
from __future__ import annotations

import numpy as np


class OnnxDecoder:
    def __init__(self, session):
        self.session = session
        inputs = {i.name: i for i in session.get_inputs()}
        self.past_names = [n for n in inputs if n.startswith("past_key_values.")]
        self.has_positions = "position_ids" in inputs
        one = inputs[self.past_names[0]].shape  # (batch, heads, past, head_dim)
        self.heads, self.head_dim = int(one[1]), int(one[3])
        self.output_names = [o.name for o in session.get_outputs()]  # logits, present.* in layer order

    def __call__(self, input_ids: np.ndarray, attention_mask: np.ndarray, position_ids: np.ndarray, past):
        n = input_ids.shape[0]
        if past is None:
            past = [np.zeros((n, self.heads, 0, self.head_dim), np.float32)] * len(self.past_names)
        feed = dict(zip(self.past_names, past))
        feed["input_ids"] = np.ascontiguousarray(input_ids, np.int64)
        feed["attention_mask"] = np.ascontiguousarray(attention_mask, np.int64)
        if self.has_positions:
            feed["position_ids"] = np.ascontiguousarray(position_ids, np.int64)
        logits, *present = self.session.run(self.output_names, feed)
        return logits, present
