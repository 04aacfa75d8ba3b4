"""The embeddings API's request forms and answers (the handler only adapts TorchServe to these).

  {"word"}                      -> {"word", "in_vocabulary", "dim", "vector"}            (the sps-genai app's /embed)
  {"word", "top_k" 1..100}      -> {"word", "in_vocabulary", "top_k", "results": [{"token", "score"}]}
                                                                                          (the sps-genai app's /similar)
  {"words": [...], "top_k"?}    -> {"words": [one of the above per word]}
  {"a", "b"}                    -> {"a", "b", "in_vocabulary": {"a", "b"}, "similarity"}  (cosine)

A word missing from the table is a 200 with "in_vocabulary": false, "vector"/"similarity": null,
"results": [] and a "message" saying so: never a silent zero vector (the sps-genai app returned one from /embed),
and in a list of words the known ones are still answered. Neighbours exclude the query word itself
(the sps-genai app listed it first with score 1.0) unless "include_self": true.
"""
from __future__ import annotations

from dataclasses import dataclass

from genai_serve.errors import InputError
from genai_serve.text.vectors import WordVectors

FORMS = '{"word": ...}, {"word": ..., "top_k": 1..100}, {"words": [...]} or {"a": ..., "b": ...}'


@dataclass
class Query:
    kind: str  # "words" (one or several words, vectors or neighbours) | "pair"
    words: list[str]
    many: bool = False
    top_k: int | None = None
    include_self: bool = False


def parse_query(params) -> Query:
    """Which form the (already validated) params are; InputError naming the field when none or two."""
    has = {f: getattr(params, f, None) is not None for f in ("word", "words", "a", "b")}
    if has["word"] and has["words"]:
        raise InputError(f"send either word or words, not both; forms: {FORMS}", "words")
    if has["word"] or has["words"]:
        words = [params.word] if has["word"] else list(params.words)
        return Query("words", words, many=has["words"], top_k=params.top_k, include_self=bool(params.include_self))
    if has["a"] or has["b"]:
        missing = "b" if has["a"] else "a"
        if not has[missing]:
            raise InputError(f"{missing}: missing; a similarity needs both a and b", missing)
        return Query("pair", [params.a, params.b])
    raise InputError(f"word: missing; send one of {FORMS}", "word")


def _unknown(word: str, wv: WordVectors) -> str:
    return f"{word!r} is not in the vocabulary ({wv.size} words)"


def answer(wv: WordVectors, queries: list[Query]) -> list[dict]:
    """Answer a batch; all neighbour searches of the batch run as one whole-table query."""
    wanted = [(qi, wi, wv.row(w)) for qi, q in enumerate(queries) if q.kind == "words" and q.top_k
              for wi, w in enumerate(q.words)]
    found = [(qi, wi, row) for qi, wi, row in wanted if row is not None]
    hits = wv.neighbours([row for _, _, row in found], [queries[qi].top_k for qi, _, _ in found],
                         [queries[qi].include_self for qi, _, _ in found])
    neighbours = {(qi, wi): h for (qi, wi, _), h in zip(found, hits)}
    return [_answer_one(wv, q, {wi: h for (qi2, wi), h in neighbours.items() if qi2 == qi})
            for qi, q in enumerate(queries)]


def _answer_one(wv: WordVectors, q: Query, neighbours: dict[int, list[dict]]) -> dict:
    if q.kind == "pair":
        rows = [wv.row(w) for w in q.words]
        out = {"a": q.words[0], "b": q.words[1], "in_vocabulary": {"a": rows[0] is not None, "b": rows[1] is not None},
               "similarity": round(wv.similarity(*rows), 6) if None not in rows else None}
        missing = [w for w, r in zip(q.words, rows) if r is None]
        if missing:
            out["message"] = "; ".join(_unknown(w, wv) for w in missing)
        return out
    answers = []
    for wi, word in enumerate(q.words):
        row = wv.row(word)
        one = {"word": word, "in_vocabulary": row is not None}
        if q.top_k:
            one.update(top_k=q.top_k, results=neighbours.get(wi, []))
        else:
            one.update(dim=wv.dim, vector=None if row is None else [round(float(x), 6) for x in wv.vector(row)])
        if row is None:
            one["message"] = _unknown(word, wv)
        answers.append(one)
    return {"words": answers} if q.many else answers[0]
