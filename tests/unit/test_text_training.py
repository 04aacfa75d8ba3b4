"""The bundled corpus (generated, checked in), the shared split, and the text trainers' checkpoints."""
import math

from genai_ops.checkpoint import load_checkpoint
from genai_serve.text.bigram import BigramModel
from genai_serve.text.tokenize import tokenize
from training import corpus_gen, train_bigram
from training.text_data import DEFAULT_CORPUS, HELDOUT_EVERY, fixture, read_texts, split


def test_the_committed_corpus_is_exactly_what_the_generator_writes():
    assert corpus_gen.main(["--check"]) == 0


def test_corpus_size_and_the_seed_fixtures():
    texts = read_texts()
    words = sum(len(t.split()) for t in texts)
    assert 50_000 <= words and DEFAULT_CORPUS.stat().st_size < 2_000_000
    assert len(fixture("seed1_bigram")) == 4 and fixture("seed1_bigram")[1] == "this is another example sentence"
    assert len(fixture("seed2_bigram")) == 4 and len(fixture("seed2_rnn")) == 3


def test_split_is_deterministic_and_disjoint():
    texts = [f"text number {i}" for i in range(35)]
    train, held = split(texts)
    assert held == [tokenize(texts[i]) for i in (9, 19, 29)] and len(train) == 32
    assert split(texts) == (train, held)
    tiny = ["a b", "c d"]  # too small to hold anything out: train and measure on all of it
    assert split(tiny) == ([["a", "b"], ["c", "d"]], [["a", "b"], ["c", "d"]])
    assert HELDOUT_EVERY == 10


def test_bigram_trainer_writes_counts_that_rebuild_the_model(tmp_path, capsys):
    out = tmp_path / "bigram" / "model.pt"
    metrics = train_bigram.main(["--out", str(out), "--max-steps", "4", "--data-dir", "/nowhere"])
    assert "text models read --corpus" in capsys.readouterr().out  # --data-dir is for image datasets
    ckpt = load_checkpoint(out)
    model = train_bigram.from_checkpoint(ckpt)
    train, held = split(read_texts())
    assert model.perplexity(held) == BigramModel.fit(train, min_freq=2).perplexity(held)
    assert metrics["heldout_perplexity"] == round(model.perplexity(held), 3) and math.isfinite(metrics["heldout_perplexity"])
    assert ckpt["data"]["train"]["heldout"]["texts"] == len(held) and ckpt["data"]["train"]["sha256"]


def test_lstm_checkpoint_carries_vocab_and_both_perplexities_on_one_split(text_exports):
    ckpt = load_checkpoint(text_exports.checkpoint("lstm"))
    m = ckpt["metrics"]
    assert {"heldout_perplexity", "bigram_heldout_perplexity", "bigram_best_add_k_heldout_perplexity",
            "train_steps", "train_seconds", "samples"} <= set(m)
    assert m["train_steps"] == 3 and len(m["samples"]) == 3
    assert ckpt["extra"]["vocab"][:3] == ["<s>", "</s>", "<unk>"]
    assert ckpt["config"]["kwargs"] == {"vocab_size": len(ckpt["extra"]["vocab"]), "embed_dim": 64, "hidden_size": 128}
