"""`gendiv estimate`: calls, tokens and cost of the generation stages, before any call is made.

Each generation stage (topic pool, every story level, the QA pool, every source-diversity
generator) is driven through its own code by a planning LLM that answers from the call
cache and sends nothing (gendiv.llm.dryrun). Cached answers are counted as cache hits and
cost nothing; the first round that needs calls is what the stage would send next. Rounds
after it (re-asks of answers that do not parse, more topic rounds while the pool is short)
depend on answers not yet given, so `calls` is the next round with every answer usable.
Input tokens: the generator's own tokenizer for a local hf model; for a remote API, 4
characters a token plus 3 per message and 3 for the reply (gendiv.llm.budget). Output
tokens and USD are upper bounds: every answer at generator.max_new_tokens. Judge stages
(self_preference in prompted mode, adversarial) are not estimated.
"""

from __future__ import annotations

from pathlib import Path

import typer
from tabulate import tabulate

from gendiv.config import load_params
from gendiv.errors import UserError
from gendiv.io import read_json, read_jsonl, write_json
from gendiv.layout import dataset_path
from gendiv.llm import collect
from gendiv.llm.cache import DEFAULT_DIR
from gendiv.llm.dryrun import dry_run, planning_llm
from gendiv.llm.report import usd


def _row(stage: str, cfg, llm, planned: list, done: bool, note: str = "") -> dict:
    backend = llm.backend
    tokens_in = sum(backend.count_tokens(r) for r in planned)
    tokens_out = cfg.max_new_tokens * len(planned)
    notes = [] if done or planned else ["no round needs calls"]
    return {
        "stage": stage,
        "generator": f"{cfg.backend}:{cfg.model}",
        "calls": len(planned),
        "cache_hits": llm.stats.cache_hits,
        "tokens_in": tokens_in,
        "tokens_out_max": tokens_out,
        "usd_max": usd(cfg, tokens_in, tokens_out),
        "finished_from_cache": done,
        "token_rule": backend.token_rule,
        "note": "; ".join(filter(None, [note, *notes])),
    }


def estimate(p, cache_dir=DEFAULT_DIR, root: Path = Path(".")) -> list[dict]:
    """One row per generation stage the params ask for (see the module docstring)."""
    from gendiv.generate import qa_pool as paraphrase_qa
    from gendiv.generate import story as topic_guided
    from gendiv.generate import topics

    files = {task: root / dataset_path(task, "real") for task in ("story", "qa")}
    for task, path in files.items():
        if not path.is_file():
            raise UserError(
                f"{path} is missing: the prompts are built from it (run `gendiv prepare-real --task "
                f"{task}` first; it makes no LLM call)"
            )
    g, rows, memo = p.generator, [], {}

    llm = planning_llm(g, p.seed, cache_dir, memo)
    wanted, chunk, max_calls, template = topics.pool_plan(p)
    result, planned = dry_run(llm, lambda m: topics.build_pool(m, wanted, chunk, max_calls, template))
    rows.append(
        _row(
            "generate-topics",
            g,
            llm,
            planned,
            result is not None,
            ""
            if result is not None
            else f"more rounds of {chunk} while the pool is short (at most {max_calls} requests)",
        )
    )
    pool, pool_note = (None, "") if result is None else ({"topics": result[0], "themes": result[1]}, "")
    topics_file = root / topics.OUT_DIR / "topics.json"
    if pool is None and topics_file.is_file():
        pool, pool_note = read_json(topics_file), f"topics from {topics_file}"
    if pool is None:
        placeholders = [f"Everyday Topic {i}" for i in range(wanted)]
        pool = {"topics": placeholders, "themes": placeholders}
        pool_note = "topic pool not known yet: placeholder topics (calls exact, tokens approximate)"

    real = read_jsonl(files["story"])
    sets = [(f"generate-story --level {level}", g, level, p.n_generated("story")) for level in p.levels]
    sd = p.source_diversity
    sets += [
        (f"generate-source --name {s.name}", sd.generator(s.name, g), sd.level, p.n_source_samples())
        for s in sd.generators
    ]
    for stage, cfg, level, n in sets:
        llm = planning_llm(cfg, p.seed, cache_dir, memo)
        group = topic_guided.story_group(p, level, cfg.prompt_style, n, pool, real)
        result, planned = dry_run(llm, lambda m, group=group, rejects=cfg.max_rejects: collect(m, [group], rejects))
        rows.append(_row(stage, cfg, llm, planned, result is not None, pool_note))

    llm = planning_llm(g, p.seed, cache_dir, memo)
    groups, _ = paraphrase_qa.pool_groups(p, paraphrase_qa.contexts(read_jsonl(files["qa"])))
    result, planned = dry_run(llm, lambda m: collect(m, groups, g.max_rejects))
    rows.append(_row("generate-qa-pool", g, llm, planned, result is not None))
    return rows


def main(
    params: Path = typer.Option(Path("params.yaml"), help="params file"),
    cache_dir: Path = typer.Option(DEFAULT_DIR, help="LLM call cache (the one the stages use)"),
    out: Path | None = typer.Option(None, help="also write the rows as JSON"),
) -> None:
    """Print calls, tokens and cost of every generation stage before any call is made."""
    p = load_params(params)
    rows = estimate(p, cache_dir, params.resolve().parent)
    table = [
        [
            r["stage"],
            r["generator"],
            r["calls"],
            r["cache_hits"],
            r["tokens_in"],
            r["tokens_out_max"],
            "-" if r["usd_max"] is None else f"{r['usd_max']:.4f}",
            r["token_rule"],
            r["note"],
        ]
        for r in rows
    ]
    costs = [r["usd_max"] for r in rows if r["usd_max"] is not None]
    table.append(
        [
            "total",
            "",
            sum(r["calls"] for r in rows),
            sum(r["cache_hits"] for r in rows),
            sum(r["tokens_in"] for r in rows),
            sum(r["tokens_out_max"] for r in rows),
            f"{sum(costs):.4f}" if costs else "-",
            "",
            "",
        ]
    )
    print(
        tabulate(
            table,
            headers=[
                "stage",
                "generator",
                "calls",
                "cache hits",
                "tokens in",
                "tokens out (max)",
                "USD (max)",
                "input tokens counted by",
                "note",
            ],
        )
    )
    print(
        f"\ncalls: the next round of each stage with every answer usable; an answer that does not parse is asked "
        f"again (up to generator.max_rejects = {p.generator.max_rejects} times), which adds calls. Output tokens "
        f"and USD assume every answer reaches generator.max_new_tokens; prices: generator.price_*_per_mtok. "
        "DVC does not run a stage whose outputs are up to date at all (`dvc status`)."
    )
    if p.generator.max_cost_usd is not None:
        print(f"generator.max_cost_usd = {p.generator.max_cost_usd:g} caps each generation stage run.")
    if out is not None:
        write_json(out, {"stages": rows})


if __name__ == "__main__":
    from gendiv.cli import run_command

    run_command(main)
