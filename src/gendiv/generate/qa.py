"""Stage `generate_qa`: the QA Gen-D set of one level, selected from the pool without an LLM call.

The pool (generate/qa_pool.py, `gendiv generate-qa-pool`) holds generated pairs and
paraphrases of real questions for every real training context. Level i keeps the
paraphrases of r_i questions (m_p * r_i pairs) plus the first n - m_p * r_i generated pairs
of every context. Output rows carry the real (cut) context; the set is a folder d<level>/ with
its dataset card, its selection report beside it.
"""

from __future__ import annotations

from pathlib import Path

import typer

from gendiv.cards import params_section, write_set
from gendiv.config import load_params, require_level
from gendiv.errors import UserError
from gendiv.generate.qa_pool import OUT_DIR, REAL_TRAIN, chosen_questions, contexts
from gendiv.io import read_json, read_jsonl, write_json
from gendiv.layout import report_beside


def select_level(pool: list[dict], by_doc: dict[str, list[dict]], p, level: int) -> list[dict]:
    """Level rows: paraphrases of the first r_i paraphrased questions (seeded order) + the first
    n - m_p*r_i generated pairs."""
    q = p.qa_gen
    r = q.replaced_questions[level]
    rows = []
    for doc, real in by_doc.items():
        mine = [row for row in pool if row["document_id"] == doc]
        paraphrased = {row["source_id"] for row in mine if row["kind"] == "paraphrase"}
        # the seeded order, skipping questions the pool gave up and replaced
        sources = [s["id"] for s in chosen_questions(real, len(real), p.seed) if s["id"] in paraphrased][:r]
        para = [row for sid in sources for row in mine if row["kind"] == "paraphrase" and row["source_id"] == sid]
        gen = [row for row in mine if row["kind"] == "generated"][: q.pairs_per_context - len(para)]
        if len(para) != r * q.paraphrases_per_question or len(para) + len(gen) != q.pairs_per_context:
            raise UserError(
                f"data/generated/qa/pool.jsonl does not match params for context {doc}: rerun `gendiv generate-qa-pool`"
            )
        for row in para + gen:
            rows.append(
                {
                    "id": f"{row['id']}-d{level}",
                    "document_id": doc,
                    "context": row["context"],
                    "question": row["question"],
                    "answer": row["answer"],
                    "source": f"d{level}",
                    "level": level,
                    "kind": row["kind"],
                    "source_id": row["source_id"],
                    "source_question": row["source_question"],
                    "generator": row["generator"],
                    "template_version": row["template_version"],
                }
            )
    return rows


def level_main(
    level: int = typer.Option(..., help="Gen-D level index"),
    params: Path = typer.Option(Path("params.yaml"), help="params file"),
    out_dir: Path = typer.Option(OUT_DIR, help="output folder (the set goes to its subfolder d<level>/)"),
) -> None:
    """Select the QA Gen-D set of one level from the pool (data/generated/qa/d{level}/)."""
    p = load_params(params)
    require_level(p, level)
    pool_file = out_dir / "pool.jsonl"
    if not pool_file.is_file():
        raise UserError(f"{pool_file} is missing: run `gendiv generate-qa-pool` first")
    by_doc = contexts(read_jsonl(REAL_TRAIN))
    rows = select_level(read_jsonl(pool_file), by_doc, p, level)
    folder = out_dir / f"d{level}"
    card_params = params_section(p, "seed", "data.qa", "generator", "qa_gen")
    rows = write_set("qa", f"d{level}", rows, f"gendiv generate-qa --level {level}", card_params, folder=folder)
    pool_report = read_json(out_dir / "pool.report.json") if (out_dir / "pool.report.json").is_file() else {}
    kinds = {k: sum(1 for r in rows if r["kind"] == k) for k in ("generated", "paraphrase")}
    write_json(
        report_beside(folder),
        {
            "level": level,
            "n_samples": len(rows),
            "replaced_questions": p.qa_gen.replaced_questions[level],
            "calls": 0,
            "selected_from": str(pool_file),
            **{f"n_{k}": v for k, v in kinds.items()},
            "pool": {
                k: pool_report.get(k)
                for k in (
                    "backend",
                    "model",
                    "calls",
                    "cache_hits",
                    "retries",
                    "rejects",
                    "dropped_samples",
                    "tokens_in_all",
                    "tokens_out_all",
                    "estimated_cost_usd_all",
                )
            },
        },
    )
    print(f"qa d{level}: {len(rows)} pairs ({kinds['paraphrase']} paraphrases)")


if __name__ == "__main__":
    from gendiv.cli import run_command

    run_command(level_main)
