"""Benchmark: training tokens/s of the `train` stage's SFTTrainer setup against TRL's
default SFTConfig (same model, data, LoRA adapter and batch size, same run), and the
achieved FLOP/s as a share of this machine's torch matmul FLOP/s measured in the same run.

    python bench/bench_train.py [--task story] [--rows 48] [--params params.yaml]

FLOPs per training step are counted by torch's FlopCounterMode on one real step (forward
and backward through the LoRA model), not estimated from the parameter count.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from gendiv.config import load_params  # noqa: E402
from gendiv.io import read_jsonl  # noqa: E402
from gendiv.layout import dataset_path  # noqa: E402
from gendiv.train.finetune import build_trainer  # noqa: E402


def matmul_flops_per_second(n: int = 2048, repeats: int = 10) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    for _ in range(2):
        a @ b
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * n**3 * repeats / (time.perf_counter() - start)


def flops_per_token(trainer) -> float:
    """FLOPs of one forward+backward step on the first batch, divided by its tokens."""
    from torch.utils.flop_counter import FlopCounterMode

    batch = next(iter(trainer.get_train_dataloader()))
    model = trainer.model
    model.train()
    with FlopCounterMode(display=False) as counter:
        out = model(input_ids=batch["input_ids"], attention_mask=batch.get("attention_mask"), labels=batch["labels"])
        out.loss.backward()
    model.zero_grad(set_to_none=True)
    return counter.get_total_flops() / int(batch["attention_mask"].sum())


def timed_train(trainer) -> tuple[float, int]:
    tokens = sum(len(ids) for ids in trainer.train_dataset["input_ids"]) * trainer.args.num_train_epochs
    start = time.perf_counter()
    trainer.train()
    return tokens / (time.perf_counter() - start), tokens


def trl_default_trainer(p, task, rows, model, tokenizer, out_dir):
    """TRL's default SFTConfig: only output_dir, batch size, epochs, max_length and, without
    a GPU, use_cpu (TRL refuses to start on a CPU without it) are set."""
    from datasets import Dataset
    from peft import LoraConfig
    from trl import SFTConfig, SFTTrainer

    from gendiv.train.evaluate import fit_examples

    t = p.train
    config = SFTConfig(
        output_dir=str(out_dir),
        per_device_train_batch_size=t.batch_size,
        num_train_epochs=t.epochs,
        max_length=t.max_length,
        report_to="none",
        save_strategy="no",
        use_cpu=not torch.cuda.is_available(),
    )
    lora = LoraConfig(
        r=t.lora_r,
        lora_alpha=t.lora_alpha,
        lora_dropout=t.lora_dropout,
        target_modules=list(t.lora_target_modules),
        task_type="CAUSAL_LM",
    )
    data = Dataset.from_list(fit_examples(tokenizer, task, rows, t.max_length))
    return SFTTrainer(model=model, args=config, train_dataset=data, processing_class=tokenizer, peft_config=lora)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--task", default="story")
    ap.add_argument("--rows", type=int, default=48, help="training rows of the real set to use")
    ap.add_argument("--params", default="params.yaml")
    args = ap.parse_args()

    from transformers import AutoModelForCausalLM, AutoTokenizer

    p = load_params(args.params)
    rows = read_jsonl(dataset_path(args.task, "real"))[: args.rows]
    tokenizer = AutoTokenizer.from_pretrained(p.models.base.dir)

    def fresh_model():
        return AutoModelForCausalLM.from_pretrained(p.models.base.dir, dtype=torch.float32)

    peak = matmul_flops_per_second()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        ours = build_trainer(p, args.task, rows, 0, fresh_model(), tokenizer, Path(tmp) / "ours")
        ours.args.save_strategy = "no"
        per_token = flops_per_token(ours)
        results["train stage"] = timed_train(ours)
        default = trl_default_trainer(p, args.task, rows, fresh_model(), tokenizer, Path(tmp) / "default")
        results["TRL default SFTConfig"] = timed_train(default)
    peak_after = matmul_flops_per_second()

    base = results["TRL default SFTConfig"][0]
    print(
        f"task {args.task}, {len(rows)} rows, batch {p.train.batch_size}, epochs {p.train.epochs}, "
        f"torch threads {torch.get_num_threads()}"
    )
    print(
        f"matmul peak: {peak / 1e9:.1f} GFLOP/s before, {peak_after / 1e9:.1f} after; "
        f"counted {per_token / 1e9:.3f} GFLOP per training token"
    )
    for name, (tps, tokens) in results.items():
        achieved = tps * per_token
        print(
            f"{name:24s} {tps:8.1f} tokens/s ({tokens} tokens)  x{tps / base:.2f} vs TRL default  "
            f"{achieved / 1e9:6.1f} GFLOP/s = {achieved / peak:.1%} of matmul peak"
        )


if __name__ == "__main__":
    main()
