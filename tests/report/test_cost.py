"""The report's generation cost table, built from the reports the generation stages write."""

import shutil

from gendiv.config import validate
from gendiv.io import write_json
from gendiv.llm import GenerationStats
from gendiv.report import assemble as report
from gendiv.report import cost as report_cost


def _openai(raw_params):
    raw_params["generator"].update(
        {
            "backend": "openai",
            "model": "gpt-4o",
            "prompt_style": "chat",
            "price_in_per_mtok": 2.0,
            "price_out_per_mtok": 8.0,
        }
    )
    return raw_params


def test_cost_table_has_a_row_per_stage_and_sums_what_the_reports_say(tmp_path, repo, raw_params):
    p = validate(_openai(raw_params), root=repo)
    stats = GenerationStats(
        calls=10, cache_hits=5, tokens_in=1000, tokens_out=500, tokens_in_all=1500, tokens_out_all=750
    )
    write_json(tmp_path / "data/generated/story/d0.report.json", stats.as_dict(p.generator))
    write_json(tmp_path / "data/generated/qa/pool.report.json", stats.as_dict(p.generator))
    text = "\n".join(report_cost.section(p, tmp_path))
    rows = {line.split(" | ")[0].strip("| "): line for line in text.splitlines() if line.startswith("| ")}
    assert rows["generate-story --level 0"] == (
        "| generate-story --level 0 | openai:gpt-4o | 10 | 5 | 1500 | 750 | 0.0060 | 0.0090 |"
    )  # (1000*2 + 500*8)/1e6, (1500*2 + 750*8)/1e6
    assert "not run" in rows["generate-topics"] and "not run" in rows["generate-source --name gemma3"]
    assert rows["**total**"] == "| **total** |  | 20 | 10 | 3000 | 1500 | 0.0120 | 0.0180 |"
    assert "price_in_per_mtok = 2" in text and "`params.yaml`" in text


def test_the_report_has_the_cost_section(tmp_path, repo, raw_params):
    shutil.copy(repo / "params.yaml", tmp_path / "params.yaml")
    p = validate(raw_params, root=repo)
    text = report.run(p, tmp_path).read_text()
    assert "## Generation cost" in text and "| generate-qa-pool | not run |" in text
