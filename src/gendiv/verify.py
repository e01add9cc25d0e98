"""`gendiv verify`: recompute every recorded number from the artifacts and compare.

For reviewers, after `dvc pull` (or `dvc repro`): every adapter under models/adapters is
evaluated again on the real test set, the base model too, and every diversity metric is
recomputed from the datasets and their stored embeddings, the manipulation check's too
(metrics/manipulation). A pass/fail table is printed
with the tolerance of each check; any mismatch or missing artifact exits non-zero.
With --test-file, every adapter is also scored on a reviewer's own held-out data.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from pathlib import Path

import typer
from tabulate import tabulate
from tqdm import tqdm

from gendiv.config import TASKS, Params, Task, load_params
from gendiv.errors import UserError
from gendiv.io import read_json, read_jsonl, write_json
from gendiv.layout import real_test_path
from gendiv.report import results
from gendiv.train.runs import adapter_path, metrics_path, trained_adapter


@dataclass
class Check:
    what: str
    recorded: float | None
    recomputed: float | None
    tolerance: float

    @property
    def ok(self) -> bool:
        if self.recorded is None or self.recomputed is None:
            return False
        if math.isnan(self.recorded) and math.isnan(self.recomputed):
            return True
        return abs(self.recorded - self.recomputed) <= self.tolerance * max(1.0, abs(self.recorded))


def _runs(p: Params, root: Path, task: str) -> list[tuple[str, str, int | None, Path | None]]:
    """(label, dataset, seed, adapter dir) of every run the params ask for, recorded or not (a
    missing one fails its check); the base model has seed and adapter None."""
    out = []
    for run_task, name, seed in sorted(results.planned_runs(p)):
        if run_task != task:
            continue
        if name == "base":
            out.append((f"{task}/base", name, None, None))
        else:
            out.append((f"{task}/{name}/s{seed}", name, seed, root / adapter_path(task, name, seed)))
    return out


def _examples_loss(root: Path, task: str, name: str, seed: int | None) -> float | None:
    """The test loss that a run's per-example scores add up to (None when they are missing)."""
    scores = results.example_scores(root, task, name, [] if seed is None else [seed])
    return scores.loss if scores else None


def check_losses(p: Params, root: Path, task: str, tolerance: float, extra_rows: list[dict] | None):
    from gendiv.train.evaluate import load_model, score_rows

    test_rows = read_jsonl(root / real_test_path(task))
    checks, extra = [], []
    for label, name, seed, adapter in tqdm(
        _runs(p, root, task), desc=f"verify: {task} test losses", unit="run", file=sys.stderr, dynamic_ncols=True
    ):
        metrics_file = root / metrics_path(task, name, seed)
        if not metrics_file.is_file():
            checks.append(Check(f"test loss {label} (metrics missing: {metrics_file})", None, None, tolerance))
            continue
        recorded = read_json(metrics_file).get("test_loss")
        if adapter is not None:
            try:
                trained_adapter(task, name, seed, root)
            except UserError as missing:
                checks.append(Check(f"test loss {label} ({missing})", recorded, None, tolerance))
                continue
        model, tokenizer = load_model(root / p.models.base.dir, adapter, merged=True)
        got, per_example = score_rows(model, tokenizer, task, test_rows, p.train.max_length, p.train.eval_batch_size)
        checks.append(Check(f"test loss {label}", recorded, got["test_loss"], tolerance))
        checks.append(
            Check(
                f"per-example test scores {label}",
                _examples_loss(root, task, name, seed),
                math.fsum(per_example["nll"]) / sum(per_example["tokens"]),
                tolerance,
            )
        )
        if extra_rows is not None:
            own, _ = score_rows(model, tokenizer, task, extra_rows, p.train.max_length, p.train.eval_batch_size)
            extra.append({"run": label, "test_loss": own["test_loss"], "test_tokens": own["test_tokens"]})
    return checks, extra


def check_diversity(p: Params, root: Path, task: str, tolerance: float) -> list[Check]:
    from transformers import AutoTokenizer

    from gendiv.measure import stage
    from gendiv.measure.sets import measured_sets

    recorded_file = root / stage.METRICS_DIR / f"{task}.json"
    if not recorded_file.is_file():
        return [Check(f"diversity {task} ({recorded_file} missing)", None, None, tolerance)]
    recorded = read_json(recorded_file)
    tokenizer = AutoTokenizer.from_pretrained(root / p.models.base.dir)
    sets = [(name, root / path) for name, path in measured_sets(p, task)]
    recomputed, *_ = stage.compute(p, task, sets, tokenizer)
    checks = []
    for name in sorted(set(recorded) | set(recomputed)):
        keys = sorted(set(recorded.get(name, {})) | set(recomputed.get(name, {})))
        for key in keys:
            checks.append(
                Check(
                    f"{task}/{name}.{key}",
                    recorded.get(name, {}).get(key),
                    recomputed.get(name, {}).get(key),
                    tolerance,
                )
            )
    return checks


def check_manipulation(p: Params, root: Path, task: str, tolerance: float) -> list[Check]:
    """Every number of metrics/manipulation/{task}.json (values, standard errors, counts),
    recomputed from the datasets, their embeddings and the topic pool; the notes are text."""
    from gendiv.measure import stage
    from gendiv.measure.sets import measured_sets

    recorded_file = root / stage.MANIPULATION_DIR / f"{task}.json"
    if not recorded_file.is_file():
        return [Check(f"manipulation {task} ({recorded_file} missing)", None, None, tolerance)]
    sets = [(name, root / path) for name, path in measured_sets(p, task, root)]

    def numbers(obj) -> dict[str, float]:  # an undefined s.e. (None) matches only another one
        return {
            k: math.nan if v is None else float(v) for k, v in results.flatten(obj).items() if not isinstance(v, str)
        }

    recorded = numbers(read_json(recorded_file))
    recomputed = numbers(stage.compute_manipulation(p, task, sets, root=root))
    return [
        Check(f"manipulation {task}/{key}", recorded.get(key), recomputed.get(key), tolerance)
        for key in sorted(set(recorded) | set(recomputed))
    ]


# What evaluate.score_rows reads from a test row of each task.
TEST_FIELDS = {"story": ("context", "completion"), "qa": ("context", "question", "answer")}


def read_test_file(test_file: Path, task: str | None) -> list[dict]:
    """A reviewer's held-out rows, checked before any model loads: exit 2 naming file, line and fault."""
    if task not in TASKS:
        raise UserError("--test-file needs --task story or --task qa")
    rows = read_jsonl(test_file, TEST_FIELDS[task])
    if not rows:
        raise UserError(
            f"--test-file {test_file}: no rows (one JSON object per line, with fields {', '.join(TEST_FIELDS[task])})"
        )
    return rows


def verify(
    p: Params,
    root: Path,
    loss_tol: float,
    metric_tol: float,
    own_rows: list[dict] | None = None,
    task_of_rows: str | None = None,
    skip_losses: bool = False,
    skip_diversity: bool = False,
):
    checks: list[Check] = []
    extra: list[dict] = []
    for task in TASKS:
        if not skip_losses:
            got, own = check_losses(p, root, task, loss_tol, own_rows if task == task_of_rows else None)
            checks += got
            extra += own
        if not skip_diversity:
            print(f"verify: recomputing the {task} diversity metrics and manipulation check", file=sys.stderr)
            checks += check_diversity(p, root, task, metric_tol)
            checks += check_manipulation(p, root, task, metric_tol)
    return checks, extra


def main(
    loss_tol: float = typer.Option(1e-4, help="relative tolerance on test losses"),
    metric_tol: float = typer.Option(1e-6, help="relative tolerance on diversity metrics"),
    test_file: Path | None = typer.Option(None, help="your own held-out data (schema of data/real/<task>/test.jsonl)"),
    task: Task | None = typer.Option(None, help="task of --test-file"),
    out: Path | None = typer.Option(None, help="write the checks (and --test-file scores) as JSON"),
    skip_losses: bool = typer.Option(False, help="do not re-evaluate adapters"),
    skip_diversity: bool = typer.Option(False, help="do not recompute diversity metrics"),
    params: Path = Path("params.yaml"),
) -> None:
    """Re-evaluate every adapter and recompute every metric; exit 1 on any mismatch."""
    p = load_params(params)
    own_rows = read_test_file(test_file, task) if test_file is not None else None
    root = params.resolve().parent
    checks, extra = verify(p, root, loss_tol, metric_tol, own_rows, task, skip_losses, skip_diversity)
    if not checks and not extra:
        raise UserError("nothing to verify: no recorded metrics (run `dvc pull` or `dvc repro` first)")
    table = [
        [
            c.what,
            "-" if c.recorded is None else f"{c.recorded:.6g}",
            "-" if c.recomputed is None else f"{c.recomputed:.6g}",
            f"{c.tolerance:g}",
            "PASS" if c.ok else "FAIL",
        ]
        for c in checks
    ]
    print(tabulate(table, headers=["check", "recorded", "recomputed", "rel. tolerance", "result"]))
    if extra:
        print(f"\nScores on {test_file}:")
        print(
            tabulate(
                [[e["run"], f"{e['test_loss']:.6f}", e["test_tokens"]] for e in extra],
                headers=["run", "test loss", "completion tokens"],
            )
        )
    failed = sum(not c.ok for c in checks)
    print(f"\n{len(checks) - failed} passed, {failed} failed")
    if out is not None:
        write_json(out, {"checks": [{**c.__dict__, "ok": c.ok} for c in checks], "test_file_scores": extra})
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    from gendiv.cli import run_command

    run_command(main)
