"""The whole pipeline, end to end, on the smoke profile: every stage runs, reports, and reruns nothing.

This is the CI profile of `dvc repro`; the full embedded default (tens of minutes) is the
same pipeline with bigger params and runs under `pytest -m slow`.
"""

import json
import re

import pytest

from gendiv.profiles import apply_profile
from workspace import copy_workspace, dvc

# One `dvc repro` of the smoke profile is ~20 minutes on 2 cores (Gemma 3 generates, ~25 runs train):
# longer than the suite's per-test limit, which the first test pays for the shared workspace.
pytestmark = pytest.mark.timeout(3600)

EXPECTED_SETS = {
    "base",
    "real",
    "d0",
    "d6",
    "fixed_r0.0",
    "fixed_r0.5",
    "expand_real",
    "expand_d0_r0.5",
    "real_n6",
    "d0_n6",
    "d6_n6",
}


@pytest.fixture(scope="module")
def smoke_ws(tmp_path_factory):
    ws = copy_workspace(tmp_path_factory.mktemp("smoke"))
    apply_profile(ws / "profiles/smoke.yaml", ws / "params.yaml")
    result = dvc(ws, "repro")
    return ws, result.stdout


def test_every_stage_runs_and_the_report_is_written(smoke_ws):
    ws, log = smoke_ws
    summary = json.loads((ws / "metrics/summary.json").read_text())
    for task in ("story", "qa"):
        losses = summary[f"loss_{task}"]
        assert EXPECTED_SETS <= set(losses), (task, sorted(losses))
        assert all(0.0 < v < 20.0 for v in losses.values()), losses
    report = (ws / "reports/REPORT.md").read_text()
    assert "## Findings of the paper at this scale" in report
    assert " ± " in report  # loss effects come with their standard errors over test examples
    assert "No fine-tuning run has recorded metrics yet." not in report
    assert "## Dataset size (paper sec 4.4)" in report and "](figures/results/dataset_size.png)" in report
    for task in ("story", "qa"):
        rows = [json.loads(line) for line in (ws / f"data/generated/{task}/d0/train.jsonl").read_text().splitlines()]
        assert rows and all(r["level"] == 0 for r in rows)


def test_source_diversity_runs_both_generators_and_reports_their_outputs(smoke_ws):
    ws, _ = smoke_ws
    gemma = [
        json.loads(line) for line in (ws / "data/sources/story/single/gemma3/train.jsonl").read_text().splitlines()
    ]
    smol = [
        json.loads(line) for line in (ws / "data/sources/story/single/smollm2/train.jsonl").read_text().splitlines()
    ]
    assert len(gemma) == len(smol) == 12
    assert {r["generator"] for r in gemma} == {"hf:models/generators/gemma3"}
    assert {r["generator"] for r in smol} == {"hf:models/base"}
    multi = [json.loads(line) for line in (ws / "data/sources/story/multi/train.jsonl").read_text().splitlines()]
    assert sorted(r["source"] for r in multi) == ["src_gemma3"] * 6 + ["src_smollm2"] * 6
    metrics = json.loads((ws / "metrics/source_diversity.json").read_text())
    assert set(metrics["models"]) == {"base", "real", "src_smollm2", "src_gemma3", "src_multi"}
    for m in metrics["models"].values():
        assert 0.0 <= m["intra"]["self_bleu"] <= 1.0 and 0.0 < m["inter"]["distinct_1"] <= 1.0
    summary = json.loads((ws / "metrics/summary.json").read_text())
    assert {"src_smollm2", "src_gemma3", "src_multi"} <= set(summary["loss_story"])
    report = (ws / "reports/REPORT.md").read_text()
    assert "## Source diversity: one generator vs several" in report and "not run at this scale" in report


def test_rerun_does_nothing(smoke_ws):
    ws, _ = smoke_ws
    out = dvc(ws, "repro").stdout
    assert "Running stage" not in out, out
    status = dvc(ws, "status").stdout
    assert "up to date" in status, status


def _gendiv(ws, *args):
    import os
    import subprocess
    import sys

    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    return subprocess.run(
        [sys.executable, "-m", "gendiv.cli", *args], cwd=ws, capture_output=True, text=True, env=env, timeout=1800
    )


def test_verify_passes_then_catches_a_tampered_metric(smoke_ws, tmp_path):
    ws, _ = smoke_ws
    res = _gendiv(ws, "verify", "--out", str(tmp_path / "checks.json"))
    assert res.returncode == 0, res.stdout + res.stderr
    checks = json.loads((tmp_path / "checks.json").read_text())["checks"]
    assert any(c["what"].startswith("test loss story/d6/") for c in checks)
    assert any(c["what"].startswith("qa/real.distinct_5") for c in checks)
    assert all(c["ok"] for c in checks)

    own = tmp_path / "own.jsonl"
    own.write_text((ws / "data/real/story/test.jsonl").read_text().splitlines()[0] + "\n")
    res = _gendiv(ws, "verify", "--skip-diversity", "--test-file", str(own), "--task", "story")
    assert res.returncode == 0 and f"Scores on {own}" in res.stdout

    metrics = ws / "metrics/runs/story/real/s0.json"
    examples = ws / "metrics/examples/qa/d6/s0.json"
    originals = {metrics: metrics.read_text(), examples: examples.read_text()}
    record = json.loads(originals[metrics])
    record["test_loss"] += 0.01
    metrics.write_text(json.dumps(record))
    scores = json.loads(originals[examples])
    scores["nll"][0] += 1.0  # one example's score: the paired comparisons in the report rest on these
    examples.write_text(json.dumps(scores))
    try:
        res = _gendiv(ws, "verify", "--skip-diversity")
        assert res.returncode == 1
        failed = [line for line in res.stdout.splitlines() if line.rstrip().endswith("FAIL")]
        assert {" ".join(line.split()[:-4]) for line in failed} == {
            "test loss story/real/s0",
            "per-example test scores qa/d6/s0",
        }, res.stdout
    finally:
        for path, text in originals.items():
            path.write_text(text)


def test_metrics_are_listed_by_dvc(smoke_ws):
    ws, _ = smoke_ws
    shown = json.loads(dvc(ws, "metrics", "show", "--json").stdout)
    text = json.dumps(shown)
    assert "loss_story" in text and "loss_qa" in text and "self_bleu_sources" in text
    assert "metrics/diversity" not in text  # hundreds of numbers: a plain output, not a metric


def test_fresh_clone_pulls_instead_of_regenerating(smoke_ws, tmp_path):
    """After `dvc push`, a fresh clone gets every artifact with `dvc pull`, and `dvc repro`
    then makes no generator call and trains nothing: no stage runs and no LLM cache or
    training checkpoint is ever created there."""
    import subprocess

    ws, _ = smoke_ws
    storage = tmp_path / "storage"
    dvc(ws, "remote", "add", "-f", "-d", "test_store", str(storage))
    git = ["git", "-c", "user.email=t@t", "-c", "user.name=t"]
    subprocess.run(git + ["add", "-A"], cwd=ws, check=True, capture_output=True)
    subprocess.run(git + ["commit", "-qm", "results"], cwd=ws, check=True, capture_output=True)
    dvc(ws, "push")

    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(ws), str(clone)], check=True)
    adapter = clone / "models/adapters/qa/real/s0/adapter_config.json"
    assert not adapter.exists()  # only DVC's .gitignore files come with git
    dvc(clone, "pull")
    out = dvc(clone, "repro").stdout
    assert "Running stage" not in out, out
    assert not (clone / ".gendiv_cache/llm").exists(), "a generator call was made"
    assert not (clone / ".gendiv_cache/train").exists(), "a training run started"
    assert "up to date" in dvc(clone, "status").stdout
    assert adapter.is_file()
    for path in ("data/generated/story/d6/train.jsonl", "models/adapters/qa/real/s0/adapter_config.json"):
        assert (clone / path).read_bytes() == (ws / path).read_bytes()


def test_queued_experiment_reruns_only_what_its_change_touches(smoke_ws):
    """`dvc exp run --queue` + `dvc queue start -j 1` on the real pipeline: a change to the
    sampling temperature of the source-diversity study reruns that stage and the report only,
    and `dvc exp show` lists the experiment with its param and its own metrics."""
    import subprocess
    import time

    from dvc_helpers import experiments

    ws, _ = smoke_ws
    git = ["git", "-c", "user.email=t@t", "-c", "user.name=t"]
    subprocess.run(git + ["add", "-A"], cwd=ws, check=True, capture_output=True)
    subprocess.run(
        git + ["commit", "-q", "--allow-empty", "-m", "baseline results"], cwd=ws, check=True, capture_output=True
    )
    baseline = json.loads((ws / "metrics/headline.json").read_text())
    dvc(ws, "exp", "run", "--queue", "-n", "hot", "-S", "source_diversity.temperature=1.5")
    dvc(ws, "queue", "start", "-j", "1")
    deadline = time.monotonic() + 900
    while True:
        status = dvc(ws, "queue", "status").stdout
        if not any(word in status for word in ("Queued", "Running")):
            break
        assert time.monotonic() < deadline, status
        time.sleep(5)
    assert "Success" in status, status + dvc(ws, "queue", "logs", "hot", check=False).stdout
    log = dvc(ws, "queue", "logs", "hot").stdout
    ran = set(re.findall(r"Running stage '([^']+)'", log))
    assert ran == {"check_params", "output_diversity", "self_preference", "report"}, ran  # new outputs, new judging
    table = experiments(json.loads(dvc(ws, "exp", "show", "--json").stdout))
    assert table["hot"]["params"]["source_diversity"]["temperature"] == 1.5
    # its own sampled outputs were measured (headline: self-BLEU of each model's outputs)
    assert table["hot"]["metrics"]["self_bleu_sources"] != baseline["self_bleu_sources"]
    assert "loss_story" in table["hot"]["metrics"]
