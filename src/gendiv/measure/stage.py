"""`gendiv measure --task T`: diversity and distribution shift of every dataset of a task.

Reads each set's JSONL file and its embeddings (`gendiv embed`), and writes
  metrics/diversity/{task}.json        {dataset: {metric: number}} (a plain output: hundreds of
                                       numbers; the report's metrics/headline.json carries Distinct-5)
  reports/plots/{task}/diversity.csv   one row per dataset (bar charts of any metric)
  reports/plots/{task}/distinct_n.csv  n, set, distinct_norm (distinct_<n>_norm): one row per set and n
  reports/plots/{task}/length_<words|tokens>.csv  length, set, share of the set's samples
  reports/figures/{task}_lengths.png   length distributions per set
  reports/figures/maps/{task}/*.png    2-D maps against the real set, one grid per group
  metrics/manipulation/{task}.json     the manipulation check at equal sample counts, with
                                       standard errors (manipulation.py), and the notes that
                                       explain the distances (reference, negative MMD^2)
Metric names (per dataset): distinct_<n> (story: over all samples joined; QA: summed
over contexts, as the paper aggregates), distinct_<n>_norm (divided by the maximum in
the dataset's comparison group, see sets.py), distinct_<n>_context_mean (QA),
ngram_diversity (sum of distinct_1..max_n, the `diversity` package's score), length
summaries <completion|answer>_<words|tokens>_<mean|median|std|p90>, dcscore and vendi,
shares_rows_with_real_train, and the distances to the real training set: mmd2_rbf,
mmd2_rbf_p, mmd_bandwidth and frechet, all at distance_n samples per set (see
`set_metrics.distance_metrics`, where each kind of metric is computed).
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import typer
from tqdm import tqdm

from gendiv.config import Params, Task, load_params, require_task
from gendiv.errors import UserError
from gendiv.figure_file import save_png
from gendiv.io import atomic_open, read_json, read_jsonl, write_json
from gendiv.layout import DIVERSITY_DIR, FIGURES_DIR, MANIPULATION_DIR, PLOTS_DIR
from gendiv.measure import distances, distinct, lengths, manipulation, maps
from gendiv.measure.embeddings import TOPICS_EMBEDDINGS, TOPICS_FILE, embedding_path
from gendiv.measure.set_metrics import (
    MMD2_NOTE,
    _num,
    _rounded,
    _seed,
    distance_count,
    distance_metrics,
    distinct_metrics,
    embedding_metrics,
    normalize_in_groups,
    reference_note,
)
from gendiv.measure.sets import comparison_group, measured_sets, reference_set, shares_rows_with_real_train

METRICS_DIR = DIVERSITY_DIR


def _prune(folder: Path, keep: set[str]) -> None:
    """Delete figures of groups no longer measured (params changed)."""
    if folder.is_dir():
        for path in folder.iterdir():
            if path.is_file() and path.name not in keep:
                path.unlink()


def _write_csv(path: Path, header: list[str], rows: list[list]) -> None:
    with atomic_open(path) as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def _draw_lengths(path: Path, task: str, by_unit: dict[str, dict[str, np.ndarray]]) -> None:
    """Box plots of each set's target lengths, one row per unit; the ticks give each set's n."""
    import matplotlib.pyplot as plt  # maps set the Agg backend

    names = list(next(iter(by_unit.values())))
    fig, axes = plt.subplots(
        len(by_unit),
        1,
        figsize=(max(6.0, 0.6 * len(names)), 3.4 * len(by_unit) + 0.8),
        squeeze=False,
        layout="constrained",
    )
    target = "completion" if task == "story" else "answer"
    for ax, (unit, per_set) in zip(axes[:, 0], by_unit.items()):
        ax.boxplot([per_set[n] if len(per_set[n]) else [0] for n in names], whis=1.5, showfliers=False)
        ticks = [f"{n} (n={len(per_set[n])})" for n in names]
        ax.set_xticks(range(1, len(names) + 1), ticks, rotation=40, ha="right", fontsize=7)
        ax.set_ylabel(f"{target} length ({unit})")
        ax.grid(axis="y", alpha=0.3)
    fig.suptitle(f"{task}: {target} length per set (n = samples of the set)", fontsize=10)
    fig.supxlabel(
        "Box: quartiles; line: median; whiskers: the furthest point within 1.5 x IQR of the box; outliers not drawn.",
        fontsize=8,
    )
    save_png(fig, path, {unit: {n: len(v) for n, v in per_set.items()} for unit, per_set in by_unit.items()})


def _load_inputs(task: str, sets: list[tuple[str, Path]], root: Path = Path(".")):
    """Every set's rows and embeddings; one error naming everything missing or stale."""
    missing = [str(path) for _, path in sets if not path.is_file()]
    missing += [
        str(root / embedding_path(task, name)) for name, _ in sets if not (root / embedding_path(task, name)).is_file()
    ]
    if missing:
        raise UserError("missing inputs (build the datasets and run `gendiv embed` for each): " + ", ".join(missing))
    rows, vectors = {}, {}
    for name, path in sets:
        rows[name] = read_jsonl(path)
        vectors[name] = np.load(root / embedding_path(task, name), allow_pickle=False)
        if len(vectors[name]) != len(rows[name]):
            raise UserError(
                f"{root / embedding_path(task, name)} has {len(vectors[name])} rows but {path} has "
                f"{len(rows[name])}: stale embeddings, rerun `gendiv embed --task {task} "
                f"--dataset {name}`"
            )
    return rows, vectors


def compute(p: Params, task: str, sets: list[tuple[str, Path]], length_tokenizer, tokenize=None):
    """Every metric of every set, with no side effects (the verify command reuses this).

    Returns (metrics, word lengths, token lengths, embeddings) keyed by set name.
    """
    rows, vectors = _load_inputs(task, sets)
    if "real" not in rows:
        raise UserError("the real training set must be among the measured sets")
    max_n = p.measure.distinct_max_n
    tokenize = tokenize or distinct.make_tokenizer(p.measure.tokenizer, p.models.base.dir)
    target = "completion" if task == "story" else "answer"
    metrics: dict[str, dict[str, float]] = {}
    word_lens, token_lens = {}, {}
    n_distance = distance_count(p, {name: len(r) for name, r in rows.items()})
    for name, _ in tqdm(sets, desc=f"measure {task}", unit="set"):
        data = rows[name]
        targets = [lengths.target_text(task, r) for r in data]
        word_lens[name] = lengths.word_lengths(targets)
        token_lens[name] = lengths.token_lengths(length_tokenizer, targets)
        m = {"n_samples": len(data)}
        m.update(distinct_metrics(task, data, tokenize, max_n))
        m.update(lengths.summary(word_lens[name], f"{target}_words"))
        m.update(lengths.summary(token_lens[name], f"{target}_tokens"))
        m.update(embedding_metrics(p, name, vectors[name]))
        m.update(distance_metrics(p, name, vectors[name], vectors["real"], n_distance))
        m["shares_rows_with_real_train"] = shares_rows_with_real_train(name, data, rows["real"])
        metrics[name] = m
    normalize_in_groups(metrics, max_n)
    metrics = {name: {k: _num(v) for k, v in sorted(m.items())} for name, m in metrics.items()}
    return metrics, word_lens, token_lens, vectors


def _load_topics(root: Path) -> manipulation.Topics:
    files = [root / TOPICS_FILE, root / TOPICS_EMBEDDINGS]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise UserError(
            f"missing inputs (run `gendiv generate-topics` and `gendiv embed --task story`): {', '.join(missing)}"
        )
    names, vectors = read_json(files[0])["topics"], np.load(files[1], allow_pickle=False)
    if len(names) != len(vectors):
        raise UserError(
            f"{files[1]} has {len(vectors)} rows but {files[0]} has {len(names)} topics: "
            "stale embeddings, rerun `gendiv embed --task story`"
        )
    return manipulation.Topics(names, vectors)


def compute_manipulation(
    p: Params, task: str, sets: list[tuple[str, Path]], tokenize=None, root: Path = Path(".")
) -> dict:
    """metrics/manipulation/{task}.json, with no side effects (the verify command reuses this).

    `sets` as from measured_sets (paths already under root); embeddings and topics are read under root.
    """
    paths = dict(sets)
    compared = [(name, paths[name]) for name in manipulation.set_names(p.levels) if name in paths]
    rows, vectors = _load_inputs(task, compared, root)
    tokenize = tokenize or distinct.make_tokenizer(p.measure.tokenizer, root / p.models.base.dir)
    result = manipulation.compute(
        task,
        rows,
        vectors,
        tokenize,
        p.measure.score_samples,
        lambda name: _seed(p, f"manipulation:{name}"),
        _load_topics(root) if task == "story" else None,
    )
    reference = reference_set(list(paths))
    result["distances"] = {
        "reference": reference,
        "reference_note": reference_note(task, reference),
        "mmd2_rbf_note": MMD2_NOTE,
    }
    return _rounded(result)


def measure(
    p: Params, task: str, sets: list[tuple[str, Path]], length_tokenizer, tokenize=None
) -> dict[str, dict[str, float]]:
    """Compute every metric of every set and write metrics, plot tables and figures."""
    metrics, word_lens, token_lens, vectors = compute(p, task, sets, length_tokenizer, tokenize)
    checked = compute_manipulation(p, task, sets, tokenize)
    max_n = p.measure.distinct_max_n
    write_json(METRICS_DIR / f"{task}.json", metrics)
    write_json(MANIPULATION_DIR / f"{task}.json", checked)
    plots = PLOTS_DIR / task
    columns = sorted({k for m in metrics.values() for k in m})
    _write_csv(
        plots / "diversity.csv",
        ["dataset", "group", *columns],
        [[name, comparison_group(name), *[m.get(c, "") for c in columns]] for name, m in metrics.items()],
    )
    names = list(metrics)  # long tables (x, set, y): fixed columns whatever the sets, one line per set
    _write_csv(
        plots / "distinct_n.csv",
        ["n", "set", "distinct_norm"],
        [[n, s, metrics[s][f"distinct_{n}_norm"]] for s in names for n in range(1, max_n + 1)],
    )
    top = max((int(v.max()) for v in [*word_lens.values(), *token_lens.values()] if len(v)), default=0)
    for unit, per_set in (("words", word_lens), ("tokens", token_lens)):
        bins, shares = lengths.histogram(per_set, top)
        _write_csv(
            plots / f"length_{unit}.csv",
            [unit, "set", "share"],
            [[b, s, _num(shares[s][b])] for s in names for b in bins],
        )
    _draw_lengths(FIGURES_DIR / f"{task}_lengths.png", task, {"words": word_lens, "tokens": token_lens})
    _draw_group_maps(p, task, vectors)
    return metrics


def _draw_group_maps(p: Params, task: str, vectors: dict[str, np.ndarray]) -> None:
    k = p.measure.map_samples
    real = vectors["real"]
    real_sample = real[distances.subsample(len(real), k, _seed(p, "map:real"))]
    groups: dict[str, dict[str, np.ndarray]] = {}
    for name, x in vectors.items():
        if name != "real" and len(x):
            groups.setdefault(comparison_group(name), {})[name] = x[
                distances.subsample(len(x), k, _seed(p, f"map:{name}"))
            ]
    if len(real_sample) < 2:
        return
    _prune(FIGURES_DIR / "maps" / task, {f"{group}.png" for group in groups})
    for group, others in groups.items():
        _, panels, axis_labels = maps.project(real_sample, others, p.measure.map_method, p.seed)
        maps.draw_maps(
            FIGURES_DIR / "maps" / task / f"{group}.png",
            panels,
            f"{task}: sentence embeddings, {group} sets vs the real training sample\n"
            f"{p.measure.map_method.upper()}, a random sample of at most {k} points per set",
            axis_labels,
        )


def main(
    task: Task = typer.Option(..., help="the task"),
    params: Path = Path("params.yaml"),
) -> None:
    """Measure diversity and distribution shift of every dataset of a task."""
    p = load_params(params)
    require_task(task)
    if not Path(p.models.base.dir, "tokenizer_config.json").is_file():
        raise UserError(
            f"{p.models.base.dir}: no base model tokenizer (run `gendiv base-model`); token lengths are counted with it"
        )
    from transformers import AutoTokenizer

    length_tokenizer = AutoTokenizer.from_pretrained(p.models.base.dir)
    sets = measured_sets(p, task)
    metrics = measure(p, task, sets, length_tokenizer)
    print(
        f"{METRICS_DIR / f'{task}.json'}: {len(metrics)} sets measured "
        f"({', '.join(metrics)}); {reference_set([n for n, _ in sets])} is the no-shift reference; "
        f"manipulation check in {MANIPULATION_DIR / f'{task}.json'}"
    )


if __name__ == "__main__":
    from gendiv.cli import run_command

    run_command(main)
