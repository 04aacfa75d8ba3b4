"""gpt2_qa's reading data and held-out sets: reading_gen's spans, seeds, template and name disjointness; the
hand-written set; the three held-out sets the trainer scores; and the real-model path (--base-model / --dataset)
on a tiny random GPT-2 and a SQuAD-format directory."""
import json
import re

import pytest

from training import reading_gen
from training.gpt2_data import HANDWRITTEN, held_out_sets, read_squad_json


@pytest.fixture(scope="module")
def docs():
    return reading_gen.build(splits={"train": 600, "dev": 70})


def rows(doc):
    return [(p["context"], qa) for d in doc["data"] for p in d["paragraphs"] for qa in p["qas"]]


def test_every_answer_is_a_span_of_its_context_and_the_output_is_seeded(docs):
    for split in ("train", "dev"):
        for context, qa in rows(docs[split]):
            a = qa["answers"][0]
            assert context[a["answer_start"]:a["answer_start"] + len(a["text"])] == a["text"]
        assert docs[split]["version"] == reading_gen.VERSION
    assert len(rows(docs["train"])) >= 1500 and len(rows(docs["dev"])) >= 150
    assert reading_gen.build(splits={"dev": 70})["dev"] == docs["dev"]  # same seed, same set
    assert reading_gen.build(seed=12, splits={"dev": 70})["dev"] != docs["dev"]


def test_the_data_is_varied_many_relations_questions_and_paragraphs_with_several_people(docs):
    train = rows(docs["train"])
    firsts = {qa["question"].split()[0] for _, qa in train}
    assert {"What", "Who", "Where", "When", "How"} <= firsts
    assert len({qa["question"].split(" ")[0] + " " + qa["question"].split(" ")[1] for _, qa in train}) >= 15
    # A question whose answer is a person's name, in a paragraph about two or more people: the question's words
    # (not the answer's kind) must pick the person.
    who = [(c, qa) for c, qa in train if qa["question"].startswith("Who ")]
    assert len(who) >= 100
    assert all(qa["answers"][0]["text"] in c for c, qa in who)


def test_held_out_shapes_and_phrasings_are_never_used_in_training():
    for rel, spec in reading_gen.RELATIONS.items():
        for kind in ("shapes", "questions"):
            train, dev = reading_gen.usable(spec[kind], kind, "train"), reading_gen.usable(spec[kind], kind, "dev")
            assert train and dev and not set(map(str, train)) & set(map(str, dev)), (rel, kind)
            assert len(train) + len(dev) == len(spec[kind])


def test_template_disjoint_names_come_from_other_locales_and_are_never_training_names(docs):
    assert not set(reading_gen.TRAIN_LOCALES) & set(reading_gen.HELD_OUT_LOCALES)
    train_pool, dev_pool = reading_gen.pools("train"), reading_gen.pools("dev")
    for kind in ("f", "m", "x", "surname", "city"):
        assert dev_pool[kind] and not set(train_pool[kind]) & set(dev_pool[kind]), kind
    train_words = {w for c, _ in rows(docs["train"]) for w in re.findall(r"[A-Z][a-zà-ÿ]+", c)}
    names = [qa["answers"][0]["text"] for _, qa in rows(docs["dev"]) if qa["answers"][0]["text"][:1].isupper()]
    assert len(names) >= 30
    # a place may be a held-out word with a suffix ("Ivy" + "ford"): the word is what the hash assigns
    stem = lambda n: re.sub(r"(ton|ford|by|field|wick)$", "", n.split()[0])  # noqa: E731
    assert all(reading_gen.split_of(n.split()[0]) == "dev" or reading_gen.split_of(stem(n)) == "dev" for n in names)
    assert not [n for n in names if n.split()[0] in train_words]


def test_the_hand_written_set_is_squad_format_with_spans():
    doc = json.loads(HANDWRITTEN.read_text())
    examples = read_squad_json(HANDWRITTEN)
    assert len(examples) >= 50
    for d in doc["data"]:
        for p in d["paragraphs"]:
            for qa in p["qas"]:
                a = qa["answers"][0]
                assert p["context"][a["answer_start"]:a["answer_start"] + len(a["text"])] == a["text"]


def test_the_offline_held_out_sets_are_three_the_name_disjoint_first(tmp_path, monkeypatch):
    sets = held_out_sets(None, 5)
    assert list(sets) == ["name_disjoint", "template_disjoint", "handwritten"]
    assert all(len(examples) == 5 for examples, _ in sets.values())
    assert sets["name_disjoint"][1]["kind"].endswith("squad_gen.py")
    squad = tmp_path / "squad"
    squad.mkdir()
    (squad / "dev.json").write_text(HANDWRITTEN.read_text())
    named = held_out_sets(str(squad), 3)
    assert list(named) == ["held_out", "handwritten"] and named["held_out"][1]["kind"] == "local SQuAD-format JSON"


def test_the_real_model_path_trains_a_named_base_on_a_squad_directory(tmp_path, monkeypatch):
    """--base-model DIR --dataset DIR: the same code trains any GPT-2 on SQuAD-format data (here a tiny random
    GPT-2 config and a SQuAD v1.1 file, as rajpurkar/squad would give)."""
    from tests.unit.gpt2.conftest import tiny_model
    from training import train_gpt2_qa

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    base = tmp_path / "base"
    model, tok = tiny_model()
    model.save_pretrained(base)
    tok.save_pretrained(base)
    squad = tmp_path / "squad"
    squad.mkdir()
    for split in ("train", "dev"):
        (squad / f"{split}.json").write_text(HANDWRITTEN.read_text())
    out = tmp_path / "checkpoints" / "gpt2_qa" / "training.json"
    train_gpt2_qa.main(["--out", str(out), "--base-model", str(base), "--dataset", str(squad), "--max-steps", "2",
                        "--eval-limit", "4", "--rl-prompts-per-step", "2"])
    record = json.loads(out.read_text())
    assert record["base"] == {"base_model": str(base)}
    assert record["data"]["train"]["kind"] == "local SQuAD-format JSON"
    assert record["data"]["train"]["examples"] == len(read_squad_json(HANDWRITTEN))
    for version in ("1.0", "2.0"):
        assert set(record["held_out_sets"][version]) == {"held_out", "handwritten"}
        assert record["held_out_sets"][version]["held_out"]["greedy"]["n"] == 4
        card = json.loads((out.parent / version / "card.json").read_text())
        assert card["training"]["sft_lr"] == 5e-5 and card["training"]["sft_prompt_weight"] == 0.0
    assert record["held_out"]["1.0"] == record["held_out_sets"]["1.0"]["held_out"]


def test_an_exported_version_is_scored_by_the_serving_loop_on_the_held_out_sets(gpt2_exports):
    """2.1 exists only as an export (int8 ONNX): gpt2_eval scores it with the serving decoder, greedy and sampled."""
    from training.gpt2_eval import DECODINGS, evaluate_onnx

    examples = read_squad_json(HANDWRITTEN)[:4]
    for version in ("2.0", "2.1"):
        for settings in DECODINGS.values():
            r = evaluate_onnx(gpt2_exports.artifact_dir("gpt2_qa", version), examples, threads=1, **settings)
            assert r["n"] == 4 and all(0 <= r[k] <= 1 for k in ("exact_match", "f1", "contained", "format_compliance"))
            assert 0 < r["mean_length"] <= 48 and len(r["samples"]) == 3


def test_the_offline_training_split_interleaves_the_generators_named():
    from training.gpt2_data import load_examples

    mixed, src = load_examples(None, "train", 6)
    assert list(src["per_source"]) == ["squad_gen", "reading_gen", "clause_gen"] and src["examples"] == 6
    assert all(n > 0 for n in src["per_source"].values())
    squad_contexts = {e["context"] for e in load_examples(None, "train", 50, sources=("squad_gen",))[0]}
    clause_contexts = {e["context"] for e in load_examples(None, "train", 50, sources=("clause_gen",))[0]}
    assert [e["context"] in squad_contexts for e in mixed] == [True, False, False] * 2
    assert [e["context"] in clause_contexts for e in mixed] == [False, False, True] * 2
    only, src = load_examples(None, "train", 4, sources=("squad_gen",))
    assert all(e["context"] in squad_contexts for e in only) and list(src["per_source"]) == ["squad_gen"]


def test_a_share_takes_the_first_part_of_a_generators_split():
    from training.gpt2_data import load_examples, parse_mix, read_squad_json, generator_dir

    assert parse_mix("squad_gen:0.5,clause_gen") == {"squad_gen": 0.5, "clause_gen": 1.0}
    for bad in ("squad_gen:0", "squad_gen:1.5", "squad_gen,nonesuch"):
        with pytest.raises(ValueError):
            parse_mix(bad)
    squad = read_squad_json(generator_dir("squad_gen") / "train.json")
    mixed, src = load_examples(None, "train", sources=parse_mix("squad_gen:0.25,reading_gen"))
    assert src["per_source"]["squad_gen"] == round(0.25 * len(squad))
    key = lambda e: (e["context"], e["question"])  # noqa: E731 (ids repeat across generators)
    everything = {key(e) for e in squad}
    assert {key(e) for e in mixed if key(e) in everything} == {key(e) for e in squad[:round(0.25 * len(squad))]}


def test_the_generator_writes_the_same_data_whatever_pythons_hash_seed():
    """Seeded means the same bytes in every process: nothing may depend on str hashing (set order)."""
    import subprocess
    import sys

    code = ("import hashlib, json; from training import reading_gen; "
            "d = reading_gen.build(splits={'train': 120, 'dev': 20}); "
            "print(hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest())")
    digests = {subprocess.run([sys.executable, "-c", code], env={**__import__("os").environ, "PYTHONHASHSEED": s},
                              capture_output=True, text=True, check=True).stdout for s in ("1", "2", "3")}
    assert len(digests) == 1
