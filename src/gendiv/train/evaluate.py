"""Real test loss: mean negative log-likelihood per completion token, given the prompt.

The loss of a test set is  sum over examples of the completion tokens' NLL  divided by
the total number of completion tokens (a token-weighted mean over the whole set, not a
mean of per-example means). Examples are tokenized exactly as TRL's SFTTrainer tokenizes
prompt/completion data (prompt, then prompt + completion + EOS; the completion starts
where the two token sequences diverge), so train and test losses measure the same thing.
Contexts are cut (never completions) so every example fits `train.max_length`; an example
left with no scored token is an error that names it.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import typer
from tqdm import tqdm

from gendiv.config import Task, load_params, require_task
from gendiv.errors import UserError
from gendiv.io import read_jsonl, write_json
from gendiv.layout import qa_prompt, real_test_path, to_prompt_completion
from gendiv.train.runs import examples_path, metrics_path


class UnscorableExampleError(UserError):
    """An example cannot keep any completion token within the length limit."""


def encode(tokenizer, prompt: str, completion: str) -> tuple[list[int], int]:
    """Token ids of prompt + completion + EOS and the index of the first scored token.

    The first token of a sequence has nothing to be predicted from, so it is never scored.
    """
    prompt_ids = tokenizer(prompt)["input_ids"]
    ids = tokenizer(prompt + completion + tokenizer.eos_token)["input_ids"]
    start = 0
    while start < min(len(prompt_ids), len(ids)) and prompt_ids[start] == ids[start]:
        start += 1
    return ids, max(start, 1)


def _with_context(task: str, row: dict, words: list[str]) -> dict:
    """The prompt/completion pair of `row` with its context replaced by `words`."""
    if task == "story":
        return {"prompt": " ".join(words), "completion": " " + row["completion"].strip()}
    return {"prompt": qa_prompt(" ".join(words), row["question"]), "completion": " " + row["answer"].strip()}


def fit_example(tokenizer, task: str, row: dict, max_length: int) -> dict:
    """Prompt/completion text of `row` whose tokens fit `max_length`, cutting the context only.

    Story keeps the context's last words (nearest the ending); QA keeps the summary's first
    words (as the real-data stage does). Raises UnscorableExampleError naming the row when
    even an empty context leaves the completion (or any of it) outside the limit.
    """
    pair = to_prompt_completion(task, row)
    ids, start = encode(tokenizer, pair["prompt"], pair["completion"])
    if len(ids) <= max_length and start < len(ids):
        return pair
    words = row["context"].split()
    keep = (lambda k: words[len(words) - k :]) if task == "story" else (lambda k: words[:k])
    ids, start = encode(tokenizer, **_with_context(task, row, []))
    if len(ids) > max_length or start >= len(ids):
        raise UnscorableExampleError(
            f"example {row.get('id')!r} ({task}): its completion needs {len(ids) - start} tokens and the "
            f"prompt without context {start}, more than train.max_length = {max_length} allows; "
            "no completion token would be scored. Raise train.max_length or drop the example."
        )
    lo, hi = 0, len(words)  # most context words that still fit: binary search
    while lo < hi:
        mid = (lo + hi + 1) // 2
        ids, _ = encode(tokenizer, **_with_context(task, row, keep(mid)))
        lo, hi = (mid, hi) if len(ids) <= max_length else (lo, mid - 1)
    return _with_context(task, row, keep(lo))


def fit_examples(tokenizer, task: str, rows: list[dict], max_length: int) -> list[dict]:
    return [fit_example(tokenizer, task, row, max_length) for row in rows]


def completion_nll(
    model, tokenizer, pairs: list[dict], batch_size: int, ids: list[str] | None = None, progress: str | None = None
) -> tuple[list[float], list[int]]:
    """Per example (in input order): summed NLL of its completion tokens, and their number.
    `progress`: a progress bar (on stderr) with this label; none by default.

    Kept per example so that two runs scored on the same test set can be compared pairwise
    (the report's standard errors); the set's loss is their token-weighted ratio.
    """
    import torch

    encoded = [encode(tokenizer, p["prompt"], p["completion"]) for p in pairs]
    for i, (seq, start) in enumerate(encoded):
        if start >= len(seq):
            name = ids[i] if ids else i
            raise UnscorableExampleError(f"example {name!r}: zero completion tokens to score")
    order = sorted(range(len(encoded)), key=lambda i: len(encoded[i][0]))  # less padding
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    device = next(model.parameters()).device
    nll_of, tokens_of = [0.0] * len(encoded), [0] * len(encoded)
    was_training = model.training
    model.eval()
    with torch.inference_mode():
        for b in tqdm(
            range(0, len(order), batch_size),
            desc=progress,
            unit="batch",
            disable=progress is None,
            file=sys.stderr,
            mininterval=1.0,
            dynamic_ncols=True,
        ):
            members = order[b : b + batch_size]
            batch = [encoded[i] for i in members]
            width = max(len(seq) for seq, _ in batch)
            input_ids = torch.full((len(batch), width), pad, dtype=torch.long)
            attention = torch.zeros((len(batch), width), dtype=torch.long)
            labels = torch.full((len(batch), width), -100, dtype=torch.long)
            for r, (seq, start) in enumerate(batch):
                input_ids[r, : len(seq)] = torch.tensor(seq)
                attention[r, : len(seq)] = 1
                labels[r, start : len(seq)] = torch.tensor(seq[start:])
            # Only positions that predict a completion token need logits (saves the vocab projection).
            first = min(start for _, start in batch)
            keep = width - first + 1
            out = model(input_ids=input_ids.to(device), attention_mask=attention.to(device), logits_to_keep=keep)
            logits = out.logits[:, -keep:-1, :].float()
            target = labels[:, width - keep + 1 :].to(device)
            nll = torch.nn.functional.cross_entropy(
                logits.reshape(-1, logits.size(-1)), target.reshape(-1), ignore_index=-100, reduction="none"
            )
            per_row = nll.view(len(batch), -1).sum(dim=1).double().cpu().tolist()
            counts = (target != -100).sum(dim=1).cpu().tolist()
            for i, value, count in zip(members, per_row, counts):
                nll_of[i], tokens_of[i] = value, int(count)
    model.train(was_training)
    return nll_of, tokens_of


def load_model(base_dir: str | Path, adapter: Path | None = None, merged: bool = False):
    """The base model (float32) with an optional peft adapter, and its tokenizer.

    `merged`: the adapter folded into the base weights (scoring, not swapping adapters): the
    same weights a trained run is scored with (finetune merges before scoring), ~16% faster on a CPU.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(base_dir)
    model = AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32)
    if adapter is not None:
        from peft import PeftModel

        if not (Path(adapter) / "adapter_config.json").is_file():
            raise UserError(f"--adapter {adapter}: no adapter_config.json there (not a finished peft adapter)")
        model = PeftModel.from_pretrained(model, str(adapter))
        if merged:
            model = model.merge_and_unload()
    return model, tokenizer


class BaseWithAdapters:
    """The base model loaded once, one peft adapter on at a time: `with_adapter` takes the last one
    off (peft's unload restores the base modules unmerged) and puts the next on, so a stage that
    judges or answers with many adapters reads the base weights once, with the numbers load_model gives."""

    def __init__(self, base_dir: str | Path):
        self.model, self.tokenizer = load_model(base_dir)

    def with_adapter(self, adapter: Path | None):
        """The base model with `adapter` on (None: the base model alone)."""
        from peft import PeftModel

        if isinstance(self.model, PeftModel):
            self.model = self.model.unload()
        if adapter is not None:
            self.model = PeftModel.from_pretrained(self.model, str(adapter))
        return self.model


def score_rows(
    model, tokenizer, task: str, rows: list[dict], max_length: int, batch_size: int, progress: str | None = None
) -> tuple[dict, dict]:
    """(test metrics, per-example scores {"id", "nll", "tokens"}) of `rows`; `progress` labels a progress bar."""
    pairs = fit_examples(tokenizer, task, rows, max_length)
    ids = [r.get("id") for r in rows]
    nll, tokens = completion_nll(model, tokenizer, pairs, batch_size, ids=ids, progress=progress)
    loss = math.fsum(nll) / sum(tokens)
    metrics = {
        "test_loss": round(loss, 6),
        "test_tokens": sum(tokens),
        "test_examples": len(rows),
        "test_perplexity": round(math.exp(loss), 4),
    }
    return metrics, {"id": ids, "nll": nll, "tokens": tokens}


def main(
    task: Task = typer.Option(..., help="the task"),
    adapter: Path | None = typer.Option(None, help="peft adapter directory; none = the base model"),
    test_file: Path | None = typer.Option(None, help="JSON lines like data/real/{task}/test.jsonl"),
    out: Path | None = typer.Option(None, help="metrics JSON; default metrics/runs/{task}/base.json without --adapter"),
    params: Path = Path("params.yaml"),
) -> None:
    """Test loss per completion token of the base model or an adapter on a test set."""
    p = load_params(params)
    require_task(task)
    test_file = test_file or real_test_path(task)
    if not test_file.is_file():
        raise UserError(f"--test-file {test_file}: file not found")
    rows = read_jsonl(test_file)
    if not rows:
        raise UserError(f"--test-file {test_file}: no examples")
    reference = out is None and adapter is None  # the base model's reference run of the pipeline
    if reference:
        out = metrics_path(task, "base")
    model, tokenizer = load_model(p.models.base.dir, adapter, merged=True)
    result, per_example = score_rows(
        model, tokenizer, task, rows, p.train.max_length, p.train.eval_batch_size, progress=f"evaluate {task}"
    )
    result.update({"task": task, "adapter": str(adapter) if adapter else None, "test_file": str(test_file)})
    if out is not None:
        write_json(out, result)
    if reference:
        write_json(examples_path(task, "base"), per_example)
    print(f"{task} test loss {result['test_loss']:.4f} over {result['test_tokens']} completion tokens")


if __name__ == "__main__":
    from gendiv.cli import run_command

    run_command(main)
