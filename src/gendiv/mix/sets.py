"""Stage `mix`: the mixed training sets of the mixing and dataset-size experiments.

  fixed_r{rho}        a fixed total of F = fixed_real_fraction x |real| samples, of which
                      round(rho x F) come from Gen-D{generated_level} and the rest from real
  expand_real         a small real set of S = expand_real_fraction x |real| samples
  expand_d{l}_r{rho}  that small real set plus round(S x rho / (1 - rho)) Gen-D{l} samples,
                      so generated / total = rho
  {src}_n{n}          n samples of real or of a Gen-D level (dataset-size experiment)
Every draw takes a prefix of one seeded order per source, so sets are nested (the real
part of fixed_r0.5 is a subset of that of fixed_r0.25, every expansion shares one real
set). QA draws go round-robin over contexts so each keeps its share of QA pairs. Rows
keep their columns (`source` says "real" or "d<l>"); each set's rows are then shuffled with
a seed of their own, so real and generated rows are interleaved in the file (chunked
readers see both kinds at once). Each set is a folder with its dataset card. Same params +
seed -> same bytes.
"""

from __future__ import annotations

import random
import shutil
from collections import defaultdict
from pathlib import Path

import typer

from gendiv.cards import params_section, write_set
from gendiv.config import Params, Task, load_params, require_task
from gendiv.errors import UserError
from gendiv.io import read_jsonl, write_json
from gendiv.layout import MIXED_DIR, dataset_path, expand_name, fixed_name, mixed_names, subset_name


def seeded_order(rows: list[dict], seed: int, salt: str) -> list[dict]:
    """A fixed shuffle of `rows`; contexts (QA document_id) are interleaved round-robin."""
    shuffled = list(rows)
    random.Random(f"{seed}:{salt}").shuffle(shuffled)
    groups: dict[object, list[dict]] = defaultdict(list)
    for row in shuffled:
        groups[row.get("document_id")].append(row)
    order = []
    for rank in range(max(len(g) for g in groups.values())):
        order += [g[rank] for g in groups.values() if rank < len(g)]
    return order


def _take(order: list[dict], n: int, what: str) -> list[dict]:
    if n > len(order):
        raise UserError(f"{what}: needs {n} samples but only {len(order)} exist")
    return order[:n]


def build_mixes(p: Params, task: str, real: list[dict], generated: dict[int, list[dict]]) -> dict[str, list[dict]]:
    """Every mixed set of `task` by name, from the real rows and the Gen-D rows by level."""
    m, seed = p.mixing, p.seed
    real_order = seeded_order(real, seed, f"{task}:real")
    gen_order = {lv: seeded_order(rows, seed, f"{task}:d{lv}") for lv, rows in generated.items()}
    sets: dict[str, list[dict]] = {}

    total = max(1, round(m.fixed_real_fraction * len(real)))
    for rho in m.fixed_ratios if task in m.tasks else []:
        n_gen = round(rho * total)
        gen_label = f"d{m.generated_level}"
        sets[fixed_name(rho)] = _take(real_order, total - n_gen, f"{fixed_name(rho)} real part") + _take(
            gen_order[m.generated_level], n_gen, f"{fixed_name(rho)} {gen_label} part"
        )

    small = _take(real_order, max(1, round(m.expand_real_fraction * len(real))), "expand_real")
    if task in m.tasks:
        sets["expand_real"] = small
    for lv in m.expand_levels if task in m.tasks else []:
        for rho in m.expand_ratios:
            n_gen = round(len(small) * rho / (1 - rho))
            sets[expand_name(lv, rho)] = small + _take(gen_order[lv], n_gen, f"{expand_name(lv, rho)} d{lv} part")

    sources = {"real": real_order, **{f"d{lv}": gen_order[lv] for lv in p.levels}} if m.subset_sizes else {}
    for n in m.subset_sizes:
        for src, order in sources.items():
            sets[subset_name(src, n)] = _take(order, n, subset_name(src, n))
    assert list(sets) == mixed_names(p, task), "mixed set order drifted from datasets.mixed_names"
    for name, rows in sets.items():
        random.Random(f"{seed}:{task}:{name}:rows").shuffle(rows)  # _take returned a fresh list
    return sets


def needed_levels(p: Params) -> list[int]:
    """Gen-D levels the mixed sets draw from."""
    m = p.mixing
    levels = {m.generated_level, *m.expand_levels} | (set(p.levels) if m.subset_sizes else set())
    return sorted(levels)


def _summary(rows: list[dict]) -> dict:
    n_real = sum(1 for r in rows if r["source"] == "real")
    return {
        "n": len(rows),
        "n_real": n_real,
        "n_generated": len(rows) - n_real,
        "generated_share": round((len(rows) - n_real) / len(rows), 4) if rows else 0.0,
    }


def main(
    task: Task = typer.Option(..., help="the task"),
    params: Path = Path("params.yaml"),
) -> None:
    """Write every mixed set of a task to data/mixed/{task}/<set>/ (plus summary.json)."""
    p = load_params(params)
    require_task(task)
    files = {"real": dataset_path(task, "real"), **{lv: dataset_path(task, f"d{lv}") for lv in needed_levels(p)}}
    missing = [str(f) for f in files.values() if not f.is_file()]
    if missing:
        raise UserError(f"mix --task {task}: missing input(s) {', '.join(missing)} (run their stages first)")
    real = read_jsonl(files.pop("real"))
    generated = {lv: read_jsonl(f) for lv, f in files.items()}
    for lv, rows in generated.items():
        if not rows:
            raise UserError(f"mix --task {task}: {files[lv]} has no rows")
    sets = build_mixes(p, task, real, generated)

    out_dir = MIXED_DIR / task
    for stale in sorted(out_dir.glob("*")):
        if stale.is_dir() and stale.name not in sets:
            shutil.rmtree(stale)
    card_params = params_section(p, "seed", "levels", "mixing")
    for name, rows in sets.items():
        write_set(task, name, rows, f"gendiv mix --task {task}", card_params)
    write_json(out_dir / "summary.json", {name: _summary(rows) for name, rows in sets.items()})
    print(f"{task}: wrote {len(sets)} mixed sets to {out_dir}")


if __name__ == "__main__":
    from gendiv.cli import run_command

    run_command(main)
