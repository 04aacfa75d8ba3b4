"""RL format alignment for gpt2_qa (version 2.0, starting from 1.0): trl's GRPOTrainer on the CPU.

python -m training.train_gpt2_rl --model DIR(1.0) --out DIR [--steps 120] [--max-steps N]

GRPO samples `num_generations` answers per prompt; each answer's advantage is its reward minus the group's
mean (the baseline), divided by the group's std; a KL penalty (beta) to the frozen SFT model keeps the
policy near 1.0 so the answers do not drift. Seed 2's step was single-sample REINFORCE with no baseline and
no KL, rewarded {0, 5, 10} for exact phrases, which is 0 for almost every early sample. Rewards here
(genai_serve/gpt2/template.py): a format reward with partial credit (share of prefix/suffix words
produced in place, 0..1) plus an answer-overlap reward (token F1 against the gold answer, 0..1), so the
format cannot be bought by dropping the answer.
"""
from __future__ import annotations

import argparse
import tempfile
import time

from genai_serve.gpt2.template import extract_answer, f1, format_reward, prompt


def reward_format(completions, **_) -> list[float]:
    return [format_reward(c) for c in completions]


def reward_answer(completions, answer, **_) -> list[float]:
    return [f1(extract_answer(c), gold) for c, gold in zip(completions, answer)]


def grpo(model_dir: str, tok, examples: list[dict], steps: int = 120, lr: float = 2e-5, beta: float = 0.04,
         num_generations: int = 4, prompts_per_step: int = 2, max_completion_length: int = 40,
         temperature: float = 0.8, seed: int = 0) -> dict:
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    rows = Dataset.from_list([{"prompt": prompt(e["question"], e["context"]), "answer": e["answer"]}
                              for e in examples])
    started = time.perf_counter()
    tok.padding_side = "left"
    with tempfile.TemporaryDirectory(prefix="gpt2-grpo-") as tmp:
        config = GRPOConfig(output_dir=tmp, use_cpu=True, max_steps=steps, learning_rate=lr, beta=beta,
                            num_generations=num_generations,
                            per_device_train_batch_size=num_generations * prompts_per_step,
                            max_completion_length=max_completion_length, temperature=temperature,
                            logging_steps=10, save_strategy="no", report_to=[], seed=seed,
                            disable_dropout=True, bf16=False)
        # A path, not a module: trl builds the frozen reference model (the KL anchor) from the same directory.
        trainer = GRPOTrainer(model=str(model_dir), reward_funcs=[reward_format, reward_answer], args=config,
                              train_dataset=rows, processing_class=tok)
        result = trainer.train()
        history = [h for h in trainer.state.log_history if "reward" in h]
    model = trainer.model.eval()
    first, last = (history[0], history[-1]) if history else ({}, {})
    return model, {"rl_algorithm": "GRPO (trl)", "rl_steps": result.global_step, "rl_beta_kl": beta, "rl_lr": lr,
                   "rl_num_generations": num_generations, "rl_reward_first_log": round(first.get("reward", 0.0), 4),
                   "rl_reward_last_log": round(last.get("reward", 0.0), 4),
                   "rl_seconds": round(time.perf_counter() - started, 1)}


def main(argv=None) -> None:
    from training.gpt2_base import load_pretrained
    from training.gpt2_data import load_examples

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="the SFT model directory (version 1.0)")
    parser.add_argument("--out", required=True, help="directory for the aligned model (version 2.0)")
    parser.add_argument("--dataset", help="SQuAD-format directory or hub id (default: data/squad_mini)")
    parser.add_argument("--steps", type=int, default=120)
    parser.add_argument("--max-steps", type=int, help="cap on --steps (quick runs)")
    args = parser.parse_args(argv)
    _, tok = load_pretrained(args.model)
    examples, _ = load_examples(args.dataset, "train")
    model, metrics = grpo(args.model, tok, examples, steps=min(args.steps, args.max_steps or args.steps))
    print(metrics)
    model.save_pretrained(args.out)
    tok.save_pretrained(args.out)


if __name__ == "__main__":
    main()
