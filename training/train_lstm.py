"""Train seed 2's word-level LSTM (SEEDS.md 2.3: Embedding 64 -> LSTM 128 -> Linear) on the corpus.

Seed 2 never trained it (random weights at every start). Here: the training split of the corpus
(training/text_data.py), one text per sequence (<s> tokens </s>, zero initial state: exactly what serving
starts from), padded batches with the padding masked out of the loss, Adam, gradient-norm clip 1.0.
Input-token dropout to <unk> (3%) teaches the <unk> embedding to stand for "some word", so an unknown
start word at serving time continues sensibly. Held-out perplexity is measured on the same split and
vocabulary as the bigram's, and the bigram's figures on that split go in the same model card.

    python -m training.train_lstm --out checkpoints/lstm/model.pt [--epochs 8] [--max-steps N]
"""
from __future__ import annotations

import math
import time

import numpy as np
import torch
from torch import nn

from genai_ops.checkpoint import save_checkpoint
from genai_serve.nets import build
from genai_serve.nets.lstm import numpy_step
from genai_serve.text.bigram import BigramModel
from genai_serve.text.rnn import Row, generate_batch
from genai_serve.text.sampling import Decoding
from genai_serve.text.tokenize import Vocab, detokenize, tokenize
from training.loop import Minibatches
from training.text_data import MIN_FREQ, corpus_info, note_ignored, read_texts, split, text_trainer_parser

EPOCHS = 8  # 8 x 42 steps of 32 texts: about a minute here (README has the measured time and perplexity)
UNK_DROPOUT = 0.03
SAMPLE_PROMPTS = ("the king", "once upon a time", "hello")


def parse_args(argv=None):
    p = text_trainer_parser(__doc__.splitlines()[0], out="checkpoints/lstm/model.pt")
    p.add_argument("--epochs", type=int, default=EPOCHS)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--embed-dim", type=int, default=64)
    p.add_argument("--hidden-size", type=int, default=128)
    p.add_argument("--min-freq", type=int, default=MIN_FREQ, help="rarer words become <unk> (as for the bigram)")
    # One thread: a 128-unit LSTM steps through time in small matmuls, where a second thread costs more in
    # synchronisation than it gains. Measured here, (32 x 180 tokens) forward + backward: 1 thread 0.12 s,
    # 2 threads 0.27 s on an idle machine and 7.5 s when another process holds one of the two cores.
    p.set_defaults(threads=1)
    return p.parse_args(argv)


def padded(seqs: list[list[int]], pad: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(inputs, targets) (B, T-1): inputs padded with `pad`, targets with -100 (ignored by the loss)."""
    t = max(map(len, seqs)) - 1
    x = torch.full((len(seqs), t), pad, dtype=torch.int64)
    y = torch.full((len(seqs), t), -100, dtype=torch.int64)
    for i, s in enumerate(seqs):
        x[i, : len(s) - 1] = torch.tensor(s[:-1])
        y[i, : len(s) - 1] = torch.tensor(s[1:])
    return x, y


@torch.no_grad()
def perplexity(net: nn.Module, seqs: list[list[int]], pad: int, batch: int = 64) -> float:
    """exp(mean NLL) over every token after <s>, </s> included: the bigram's definition."""
    net.eval()
    nll, n = 0.0, 0
    for i in range(0, len(seqs), batch):
        x, y = padded(seqs[i : i + batch], pad)
        logits, _ = net(x)
        nll += nn.functional.cross_entropy(logits.flatten(0, 1), y.flatten(), ignore_index=-100, reduction="sum").item()
        n += int((y != -100).sum())
    return math.exp(nll / n)


def samples(net, vocab: Vocab, n_tokens: int = 25) -> list[str]:
    rows = [Row(vocab.encode_text(tokenize(p))[:-1], n_tokens, Decoding(False, 1.0, None, np.random.default_rng(s)))
            for s, p in enumerate(SAMPLE_PROMPTS)]
    outs = generate_batch(numpy_step(net), rows, net.hidden_size, vocab.eos, (vocab.bos, vocab.unk))
    return [detokenize([*tokenize(p), *(vocab.tokens[i] for i in o)]) for p, o in zip(SAMPLE_PROMPTS, outs)]


def main(argv=None) -> dict:
    args = parse_args(argv)
    note_ignored(args)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    train, held = split(read_texts(args.corpus))
    vocab = Vocab.build(train, args.min_freq)
    train_ids, held_ids = [vocab.encode_text(t) for t in train], [vocab.encode_text(t) for t in held]
    kwargs = {"vocab_size": len(vocab), "embed_dim": args.embed_dim, "hidden_size": args.hidden_size}
    net = build("tiny_lstm_lm", **kwargs)
    opt = torch.optim.Adam(net.parameters(), lr=args.lr)
    gen = torch.Generator().manual_seed(args.seed)
    batches = Minibatches(len(train_ids), args.batch_size, args.epochs, args.max_steps, generator=gen, desc="lstm")
    print(f"data: {len(train_ids)} train / {len(held_ids)} held-out texts, vocab {len(vocab)}; "
          f"{args.epochs} epochs x {batches.steps_per_epoch} steps")
    t0 = time.perf_counter()
    for epoch, idx in batches:
        net.train()
        x, y = padded([train_ids[i] for i in idx.tolist()], vocab.eos)
        drop = (torch.rand(x.shape, generator=gen) < UNK_DROPOUT) & (x != vocab.bos)
        x = x.masked_fill(drop, vocab.unk)
        logits, _ = net(x)
        loss = nn.functional.cross_entropy(logits.flatten(0, 1), y.flatten(), ignore_index=-100)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        batches.record(epoch, (loss.item(),), loss=f"{loss.item():.3f}")
    seconds = time.perf_counter() - t0
    net.eval()
    bigram = BigramModel.fit(train, args.min_freq)  # same split, same vocabulary: the baseline to beat
    alphas = (0.3, 0.1, 0.03, 0.01, 0.003, 0.001, 0.0003)  # add-k smoothing tuned on the held-out split: the strongest bigram
    best_alpha = min(alphas, key=lambda a: BigramModel.fit(train, args.min_freq, a).perplexity(held))
    metrics = {
        "heldout_perplexity": round(perplexity(net, held_ids, vocab.eos), 3),
        "bigram_heldout_perplexity": round(bigram.perplexity(held), 3),
        "bigram_best_add_k_heldout_perplexity": round(BigramModel.fit(train, args.min_freq, best_alpha).perplexity(held), 3),
        "bigram_best_add_k_alpha": best_alpha,
        "train_loss": round(float(np.mean(batches.last_epoch())), 4) if batches.steps else None,
        "train_steps": batches.steps,
        "epochs": round(batches.steps / batches.steps_per_epoch, 2),
        "train_seconds": round(seconds, 1),
        "vocab_size": len(vocab),
        "min_freq": args.min_freq,
        "unk_dropout": UNK_DROPOUT,
        "metrics_window": "train_loss: mean over the last epoch; perplexities: held-out split",
        "samples": samples(net, vocab),
    }
    save_checkpoint(args.out, net="tiny_lstm_lm", kwargs=kwargs, state_dict=net.state_dict(), metrics=metrics,
                    data={"train": corpus_info(args.corpus, train, held)}, extra={"vocab": vocab.tokens})
    print(f"lstm: heldout_perplexity={metrics['heldout_perplexity']} (bigram on the same split: "
          f"{metrics['bigram_heldout_perplexity']}, best add-k {metrics['bigram_best_add_k_heldout_perplexity']}) "
          f"steps={batches.steps} train_seconds={seconds:.1f} -> {args.out}")
    return metrics


if __name__ == "__main__":
    main()
