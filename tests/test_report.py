"""Report stage: verdicts follow the numbers, figures are valid PNGs with their series, all linked."""

import json
import re
import shutil

import numpy as np
import pytest
from PIL import Image

from gendiv import report
from gendiv.io import write_json
from gendiv.params import validate


N_EXAMPLES = 60
TOKENS = np.array([4 + i % 9 for i in range(N_EXAMPLES)], dtype=float)


def _centred(rng, scale):
    """Per-token noise whose token-weighted mean is exactly 0 (the set's loss stays as given)."""
    e = rng.normal(0.0, scale, N_EXAMPLES)
    return e - (e @ TOKENS) / TOKENS.sum()


def _examples(loss, shared, rng, run_noise):
    """Per-example scores of a run with this loss: a test-example pattern shared by every run
    (hard and easy examples) plus noise of this run alone."""
    per_token = loss + shared + _centred(rng, run_noise)
    return {"id": [f"t{i}" for i in range(N_EXAMPLES)], "nll": list(per_token * TOKENS), "tokens": list(TOKENS)}


def _write_runs(root, task, losses: dict, run_noise=0.01):
    rng = np.random.default_rng(0)
    shared = _centred(rng, 1.0)
    for name, loss in losses.items():
        if name == "base":
            write_json(root / f"metrics/runs/{task}/base.json", {"test_loss": loss})
            write_json(root / f"metrics/examples/{task}/base.json", _examples(loss, shared, rng, run_noise))
        else:
            for seed, jitter in ((0, 0.0), (1, 0.002)):
                write_json(root / f"metrics/runs/{task}/{name}/s{seed}.json",
                           {"test_loss": loss + jitter, "train_loss": loss - 0.5})
                write_json(root / f"metrics/examples/{task}/{name}/s{seed}.json",
                           _examples(loss + jitter, shared, rng, run_noise))


def _setup(tmp_path, repo, raw_params, gen_trend: int, run_noise=0.01):
    """A results tree where Gen-D loss falls (gen_trend=-1) or rises (+1) with the level."""
    shutil.copy(repo / "params.yaml", tmp_path / "params.yaml")
    raw_params["train"]["seeds"] = [0, 1]
    p = validate(raw_params, root=repo)
    for task in ("story", "qa"):
        losses = {"base": 4.0, "real": 2.0, "expand_real": 2.6}
        losses.update({f"d{lv}": 3.0 + gen_trend * 0.1 * lv for lv in range(7)})
        losses.update({"fixed_r0.0": 2.1, "fixed_r0.25": 2.2, "fixed_r0.5": 2.3, "fixed_r0.75": 2.4})
        losses.update({f"expand_d{lv}_r{r}": 2.5 - 0.01 * lv for lv in (1, 3, 5) for r in (0.5, 0.8)})
        _write_runs(tmp_path, task, losses, run_noise)
        div = {"real": {"distinct_5": 0.8, "completion_words_mean": 9.0, "answer_words_mean": 4.0},
               "real_test": {"mmd_rbf": 0.01, "frechet": 0.5},
               "fixed_r0.5": {"distinct_5": 0.5, "mmd_rbf": 0.05}}
        for lv in range(7):
            div[f"d{lv}"] = {"distinct_5": 0.3 + 0.05 * lv, "mmd_rbf": 0.2 - 0.01 * lv, "frechet": 3.0,
                             "completion_words_mean": 12.0 + lv, "answer_words_mean": 3.0 + lv}
        write_json(tmp_path / f"metrics/diversity/{task}.json", div)
    (tmp_path / "reports/figures/maps/story").mkdir(parents=True)
    Image.new("RGB", (8, 8)).save(tmp_path / "reports/figures/maps/story/levels.png")
    Image.new("RGB", (8, 8)).save(tmp_path / "reports/figures/story_lengths.png")
    return p


def _verdicts(text):
    return {(m.group(1), m.group(2)): m.group(3)
            for m in re.finditer(r"^\| (.+?) \| (story|qa|both) \| \*\*(.+?)\*\* \|", text, re.M)}


def test_findings_follow_the_numbers(tmp_path, repo, raw_params):
    p = _setup(tmp_path, repo, raw_params, gen_trend=-1)
    text = report.run(p, tmp_path).read_text()
    v = _verdicts(text)
    assert v[("Test loss falls as diversity rises (Gen-D0 to Gen-D6)", "story")] == "reproduced"
    assert v[("Every Gen-D set stays worse than real data", "qa")] == "reproduced"
    assert v[("Fixed-size mixing: any share of generated data raises test loss", "story")] == "reproduced"
    assert v[("Paraphrasing makes generated QA data less diverse than real data", "qa")] == "reproduced"
    assert v[("Generated stories are more diverse than real stories", "story")] == "not reproduced"
    assert v[("Adding generated data to scarce real data helps (QA)", "qa")] == "reproduced"
    assert v[("Adding generated data to scarce real stories hurts (distribution shift)", "story")] == "not reproduced"
    assert v[("More diverse Gen-D QA sets have longer answers", "qa")] == "reproduced"
    assert "not run at this scale" in v[("Model size: the 124M model gains from diversity, the 8B model loses", "both")]


def test_summary_metrics_have_short_names(tmp_path, repo, raw_params):
    p = _setup(tmp_path, repo, raw_params, gen_trend=-1)
    report.run(p, tmp_path)
    summary = json.loads((tmp_path / "metrics/summary.json").read_text())
    assert summary["loss_story"]["d0"] == pytest.approx(3.001)  # mean of seeds 3.000 and 3.002
    assert summary["loss_qa"]["base"] == pytest.approx(4.0)
    assert set(summary) == {"loss_story", "loss_qa"}


def test_rising_loss_is_reported_as_not_reproduced(tmp_path, repo, raw_params):
    p = _setup(tmp_path, repo, raw_params, gen_trend=+1)
    v = _verdicts(report.run(p, tmp_path).read_text())
    assert v[("Test loss falls as diversity rises (Gen-D0 to Gen-D6)", "qa")] == "not reproduced"


def test_effects_smaller_than_test_noise_are_inconclusive(tmp_path, repo, raw_params):
    """The same means as a clear result, but each run's per-example noise swamps the 0.1-0.3
    differences between sets: the verdicts must say the data cannot tell."""
    p = _setup(tmp_path, repo, raw_params, gen_trend=-1, run_noise=5.0)
    text = report.run(p, tmp_path).read_text()
    v = _verdicts(text)
    assert v[("Fixed-size mixing: any share of generated data raises test loss", "story")] == (
        "inconclusive (within noise)")
    assert v[("Adding generated data to scarce real data helps (QA)", "qa")] == "inconclusive (within noise)"
    assert v[("Paraphrasing makes generated QA data less diverse than real data", "qa")] == "reproduced"  # no noise model


def test_missing_per_example_scores_are_not_judged(tmp_path, repo, raw_params):
    p = _setup(tmp_path, repo, raw_params, gen_trend=-1)
    shutil.rmtree(tmp_path / "metrics/examples/story/real")
    v = _verdicts(report.run(p, tmp_path).read_text())
    assert v[("Every Gen-D set stays worse than real data", "story")] == "not judged"
    assert v[("Every Gen-D set stays worse than real data", "qa")] == "reproduced"


def test_figures_are_valid_pngs_with_expected_series_and_all_linked(tmp_path, repo, raw_params):
    p = _setup(tmp_path, repo, raw_params, gen_trend=-1)
    text = report.run(p, tmp_path).read_text()
    expected = {
        "loss_vs_diversity.png": {"story:gen_loss", "story:real_loss", "story:base_loss",
                                  "story:distinct5_norm", "qa:gen_loss"},
        "fixed_mixing.png": {"story:fixed", "qa:fixed"},
        "expansion.png": {"story:expand_d1", "story:expand_d3", "qa:expand_d5"},
    }
    for name, series in expected.items():
        path = tmp_path / "reports/figures/results" / name
        with Image.open(path) as img:
            img.verify()
        with Image.open(path) as img:
            assert img.format == "PNG" and img.size[0] > 300
            recorded = json.loads(img.text["Description"])
        assert series <= set(recorded), (name, set(recorded))
    assert json.loads(Image.open(tmp_path / "reports/figures/results/loss_vs_diversity.png").text["Description"])[
        "story:gen_loss"]["0"] == pytest.approx(3.001)
    for png in (tmp_path / "reports/figures").rglob("*.png"):
        rel = png.relative_to(tmp_path / "reports").as_posix()
        assert f"({rel})" in text, f"{rel} is not linked from REPORT.md"


def test_report_has_provenance_and_paper_distinct5(tmp_path, repo, raw_params):
    p = _setup(tmp_path, repo, raw_params, gen_trend=-1)
    text = report.run(p, tmp_path).read_text()
    assert "git commit:" in text and "dvc.lock sha256" in text and "torch" in text
    assert "2.4507" in text and "0.0057" in text  # the paper's Distinct-5 beside ours
    assert "| real_test |" in text  # reference distance between two real samples
    assert "| fixed_r0.5 |" in text and "| 5.mmd_rbf" not in text  # dotted names stay whole


def test_empty_metrics_say_so(tmp_path, repo, raw_params):
    shutil.copy(repo / "params.yaml", tmp_path / "params.yaml")
    p = validate(raw_params, root=repo)
    text = report.run(p, tmp_path).read_text()
    assert "No fine-tuning run has recorded metrics yet." in text
    assert not (tmp_path / "reports/figures/results/loss_vs_diversity.png").exists()


def test_runs_outside_the_params_grid_are_left_out(tmp_path, repo, raw_params):
    """DVC keeps the files of runs whose stages left the grid (a smaller `dvc exp run -S`):
    the report must not mix them in."""
    p = _setup(tmp_path, repo, raw_params, gen_trend=-1)
    write_json(tmp_path / "metrics/runs/story/fixed_r0.9/s0.json", {"test_loss": 9.0})
    write_json(tmp_path / "metrics/runs/story/d0/s7.json", {"test_loss": 9.0})
    report.run(p, tmp_path)
    summary = json.loads((tmp_path / "metrics/summary.json").read_text())
    assert "fixed_r0.9" not in summary["loss_story"]
    assert summary["loss_story"]["d0"] == pytest.approx(3.001)  # seed 7 is not in train.seeds


@pytest.mark.parametrize("size_slope, growth_verdict", [(+0.01, "reproduced"), (-0.01, "not reproduced")])
def test_dataset_size_claims_follow_the_numbers(tmp_path, repo, raw_params, size_slope, growth_verdict):
    raw_params["mixing"]["subset_sizes"] = [6, 12]
    p = _setup(tmp_path, repo, raw_params, gen_trend=-1)     # full Gen-D sets: 3.0 - 0.1 x level
    full = p.n_generated("qa")
    for task in ("story", "qa"):
        losses = {"real_n6": 1.9, "real_n12": 1.8}
        losses.update({f"d{lv}_n{n}": 3.0 - 0.1 * lv + size_slope * (n - full) for lv in range(7) for n in (6, 12)})
        _write_runs(tmp_path, task, losses)
    text = report.run(p, tmp_path).read_text()
    v = _verdicts(text)
    worse = "At every dataset size, every Gen-D subset stays worse than the real subset of that size"
    trend = "The diversity trend of experiment 1 (loss falls as diversity rises) holds at every dataset size"
    growth = "More LLM-generated data can be harmful: larger Gen-D sets give higher test loss"
    assert v[(worse, "story")] == v[(worse, "qa")] == "reproduced"
    assert v[(trend, "story")] == v[(trend, "qa")] == "reproduced"
    assert v[(growth, "qa")] == growth_verdict and (growth, "story") not in v
    series = json.loads(Image.open(tmp_path / "reports/figures/results/dataset_size.png").text["Description"])
    assert set(series["qa:real"]) == {"6", "12", str(p.n_real_train("qa"))}
    assert series["qa:d2"]["6"] == pytest.approx(2.8 + size_slope * (6 - full) + 0.001)   # mean of 2 seeds
    d2 = [2.8 + size_slope * (n - full) + 0.001 for n in (6, 12, full)]
    assert f"| set | n = 6 | n = 12 | n = {full} |" in text and "| d2 | {:.4f} | {:.4f} | {:.4f} |".format(*d2) in text


def test_dataset_size_section_says_how_to_run_it_when_off(tmp_path, repo, raw_params):
    p = _setup(tmp_path, repo, raw_params, gen_trend=-1)
    text = report.run(p, tmp_path).read_text()
    assert "Not run at this scale: `mixing.subset_sizes` is empty. Each size adds 32 fine-tuning runs" in text
    assert not (tmp_path / "reports/figures/results/dataset_size.png").exists()
