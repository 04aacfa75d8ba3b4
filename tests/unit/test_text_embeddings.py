"""Word vectors: the spaCy pipeline export, whole-table neighbours, OOV answers, similarity, the handler,
and the PPMI + SVD trainer on the bundled corpus."""
import json

import numpy as np
import pytest
import spacy

from genai_serve.text.vectors import WordVectors, build_pipeline
from tests.unit.conftest import CRAFTED
from training import train_embeddings


def run(handler, context, bodies):
    out = handler.handle([{"body": b} for b in bodies], context)
    return [json.loads(o) for o in out], [context.status[i][0] for i in range(len(bodies))]


def cosine(a, b):
    a, b = np.asarray(CRAFTED[a]), np.asarray(CRAFTED[b])
    return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))


def test_export_writes_a_pipeline_spacy_loads_with_the_same_vectors(text_exports):
    art = text_exports.artifact_dir("embeddings")
    info = json.loads((art / "export.json").read_text())
    assert info["parity"]["passed"] and info["parity"]["max_abs_diff"] == {"vectors": 0.0}
    nlp = spacy.load(art / "pipeline")
    assert nlp.vocab.vectors.shape == (len(CRAFTED), 3)
    np.testing.assert_allclose(nlp.vocab.get_vector("queen"), CRAFTED["queen"], rtol=1e-6)
    assert json.loads((art / "embeddings.json").read_text())["dim"] == 3


def test_neighbours_search_the_whole_table_in_one_batched_query():
    wv = WordVectors(build_pipeline(list(CRAFTED), np.array(list(CRAFTED.values()))))
    rows = [wv.row("king"), wv.row("dog"), wv.row("bread")]
    got = wv.neighbours(rows, [2, 3, 1], [False, False, True])
    assert [h["token"] for h in got[0]] == ["prince", "queen"]  # the query word itself is left out
    assert [h["token"] for h in got[1]] == ["fox", "cat", "hello"]  # cosines 0.995, 0.994, 0.632
    assert got[2] == [{"token": "bread", "score": 1.0}]  # include_self: the word first, at 1.0
    assert got[0][1]["score"] == pytest.approx(cosine("king", "queen"), abs=1e-4)
    scores = [h["score"] for h in wv.neighbours([wv.row("hello")], [9], [False])[0]]
    assert len(scores) == 9 and scores == sorted(scores, reverse=True)  # every other row of the table, ranked


def test_lookup_falls_back_to_lower_case_and_reports_misses():
    wv = WordVectors(build_pipeline(list(CRAFTED), np.array(list(CRAFTED.values()))))
    assert wv.row("KING") == wv.row("king") and wv.row("Paris") is not None
    assert wv.row("paris") is None  # only the lower-case form is tried, not other casings
    assert wv.row("unicorn") is None
    assert wv.similarity(wv.row("king"), wv.row("queen")) == pytest.approx(cosine("king", "queen"))


def test_handler_answers_every_form_in_one_batch(text_handler):
    handler, ctx = text_handler("embeddings")
    out, codes = run(handler, ctx, [
        {"word": "hello"}, {"word": "king", "top_k": 2}, {"words": ["dog", "unicorn"], "top_k": 1},
        {"a": "king", "b": "queen"}, {"a": "king", "b": "unicorn"}, {"word": "unicorn"}, {"words": ["bread", "cat"]},
    ])
    assert codes == [200] * 7
    assert out[0] == {"word": "hello", "in_vocabulary": True, "dim": 3, "vector": [0.5, 0.5, 0.5]}
    assert out[1]["results"][0]["token"] == "prince" and out[1]["top_k"] == 2 and len(out[1]["results"]) == 2
    assert [w["in_vocabulary"] for w in out[2]["words"]] == [True, False]
    assert out[2]["words"][1]["results"] == [] and "not in the vocabulary" in out[2]["words"][1]["message"]
    assert out[3]["similarity"] == pytest.approx(cosine("king", "queen"), abs=1e-6)
    assert out[4]["similarity"] is None and out[4]["in_vocabulary"] == {"a": True, "b": False}
    # out of vocabulary: said plainly, never a silent zero vector
    assert out[5]["in_vocabulary"] is False and out[5]["vector"] is None and "unicorn" in out[5]["message"]
    assert [len(w["vector"]) for w in out[6]["words"]] == [3, 3]


@pytest.mark.parametrize("bad, field", [({}, "word"), ({"top_k": 3}, "word"), ({"a": "king"}, "b"), ({"b": "king"}, "a"),
                                        ({"word": "king", "words": ["dog"]}, "words"), ({"word": ""}, "word"),
                                        ({"word": "king", "top_k": 0}, "top_k"), ({"word": "king", "top_k": 101}, "top_k"),
                                        ({"words": []}, "words"), ({"words": "king"}, "words"),
                                        ({"words": ["ok", ""]}, "words.1"), ({"words": ["w"] * 101}, "words")])
def test_bad_requests_are_400_naming_the_field(text_handler, bad, field):
    handler, ctx = text_handler("embeddings")
    out, codes = run(handler, ctx, [bad, {"word": "king", "top_k": 1}])
    assert codes == [400, 200] and out[0]["field"] == field, out[0]


def test_a_spacy_pipeline_directory_can_stand_in_for_en_core_web_md(tmp_path):
    """--spacy-model takes a package name or a pipeline directory: the packaged-vectors path, run for real."""
    from genai_ops.checkpoint import load_checkpoint

    build_pipeline(["alpha", "beta"], np.eye(2, dtype=np.float32)).to_disk(tmp_path / "pkg")
    out = tmp_path / "model.pt"
    metrics = train_embeddings.main(["--out", str(out), "--spacy-model", str(tmp_path / "pkg")])
    assert metrics["words"] == 2 and load_checkpoint(out)["config"]["net"] == "spacy_vectors_package"
    with pytest.raises(SystemExit, match="cannot load"):
        train_embeddings.main(["--out", str(out), "--source", "spacy", "--spacy-model", "no_such_package_xyz"])


def test_trained_vectors_put_words_of_a_kind_together(tmp_path):
    metrics = train_embeddings.main(["--out", str(tmp_path / "model.pt"), "--source", "corpus"])
    near = metrics["probe_neighbours"]
    assert {"queen", "prince", "princess"} & set(near["king"])
    assert {"cat", "fox", "wolf", "pig", "cow", "horse", "goat"} & set(near["dog"])
    assert {"cake", "cheese", "soup", "pie", "milk"} & set(near["bread"])
    assert metrics["words"] > 500 and metrics["dim"] == 50


def test_archive_packs_the_pipeline_directory(text_exports):
    import zipfile

    from export import archive as archive_mod
    from genai_ops.registry import load_registry

    registry = load_registry()
    mar = archive_mod.archive(registry["embeddings"], "1.0", registry, text_exports)
    with zipfile.ZipFile(mar) as z:
        names = set(z.namelist())
        card = json.loads(z.read("model_card.json"))
    assert {"embeddings.json", "embeddings.py", "pipeline/vocab/vectors", "pipeline/vocab/strings.json",
            "pipeline/config.cfg"} <= names
    assert len(card["artifacts"]["pipeline"]["sha256"]) == 64
