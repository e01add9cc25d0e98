"""Report stage: verdicts follow the numbers, figures are valid PNGs with their series, all linked."""

import json
import re
import shutil

import numpy as np
import pytest
from PIL import Image

from gendiv.config import validate
from gendiv.io import write_json, write_jsonl
from gendiv.layout import dataset_names, dataset_path
from gendiv.report import assemble as report
from gendiv.report import results

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


def _write_runs(root, task, losses: dict, run_noise=0.01, seeds=(0, 1), seed_sd=0.002, steps=None):
    """Runs of every set; the seeds' losses spread +-seed_sd around the set's loss (its mean stays exact)."""
    rng = np.random.default_rng(0)
    shared = _centred(rng, 1.0)
    steps = steps or {}
    for name, loss in losses.items():
        if name == "base":
            write_json(root / f"metrics/runs/{task}/base.json", {"test_loss": loss})
            write_json(root / f"metrics/examples/{task}/base.json", _examples(loss, shared, rng, run_noise))
            continue
        for k, seed in enumerate(seeds):
            jitter = seed_sd * (2 * k - (len(seeds) - 1)) / max(1, len(seeds) - 1)
            write_json(
                root / f"metrics/runs/{task}/{name}/s{seed}.json",
                {"test_loss": loss + jitter, "train_loss": loss - 0.5, "steps": steps.get(name, 24)},
            )
            write_json(
                root / f"metrics/examples/{task}/{name}/s{seed}.json", _examples(loss + jitter, shared, rng, run_noise)
            )


def _measure(value, se=0.01):
    return {"value": value, "se": se, "n": 24}


def _write_manipulation(root, task, levels, rises=True):
    """Diversity per level at equal sample counts: rising with the level, or flat and shuffled."""
    order = levels if rises else [levels[i] for i in (2, 0, 3, 1, *range(4, len(levels)))]
    sets = {}
    for name, rank in [("real", None), ("real_test", None)] + [(f"d{lv}", order.index(lv)) for lv in levels]:
        r = 10 if rank is None else rank
        m = {
            "distinct_2": _measure(0.5 + 0.03 * r),
            "distinct_3": _measure(0.6 + 0.03 * r),
            "distinct_5": _measure(0.8 if rank is None else 0.3 + 0.05 * rank),
            "vendi": _measure(10 + r, 0.5),
            "mean_pairwise_distance": _measure(0.5 + 0.02 * r),
            "repetition": _measure(0.05),
        }
        if task == "story":
            m.update(topics_used=_measure(2 ** (rank or 0), 0.0), topic_adherence=_measure(0.4))
        else:
            m.update(
                real_answer_share=_measure(1.0 if rank is None else 1 - rank / len(levels), 0.0),
                near_duplicate_share=_measure(0.2),
            )
        sets[name] = m
    write_json(
        root / f"metrics/manipulation/{task}.json", {"task": task, "n_per_set": 24, "subsamples": 20, "sets": sets}
    )


def _write_rows(root, task, levels, docs):
    """Training rows for the length claims: generated targets 3 + level words longer than real's
    (QA rows spread over `docs` documents, the clusters of their standard errors)."""

    def rows(words, n=24):
        out = []
        for i in range(n):
            text = " ".join(["w"] * (words + i % 3))
            out.append(
                {"id": f"doc{i % docs}-{i}", "document_id": f"doc{i % docs}", "answer": text}
                if task == "qa"
                else {"id": f"s{i}", "completion": text}
            )
        return out

    write_jsonl(root / dataset_path(task, "real"), rows(6))
    for lv in levels:
        write_jsonl(root / dataset_path(task, f"d{lv}"), rows(9 + lv))


def _losses(p, task, gen_trend):
    out = {"base": 4.0}
    for name in dataset_names(p, task):
        if name == "real":
            out[name] = 2.0
        elif (lv := results.level_of(name)) is not None:
            out[name] = 3.0 + gen_trend * 0.1 * lv
        elif (rho := results.fixed_ratio_of(name)) is not None:
            out[name] = 2.1 + 0.4 * rho
        elif name == "expand_real":
            out[name] = 2.6
        elif e := results.expansion_of(name):
            out[name] = 2.5 - 0.01 * e[0]
    return out


def _setup(
    tmp_path,
    repo,
    raw_params,
    gen_trend: int,
    run_noise=0.01,
    seeds=(0, 1),
    seed_sd=0.002,
    rises=True,
    steps=None,
    mixing_tasks=("story", "qa"),
    qa_docs=6,
):
    """A results tree where Gen-D loss falls (gen_trend=-1) or rises (+1) with the level."""
    shutil.copy(repo / "params.yaml", tmp_path / "params.yaml")
    raw_params["mixing"]["tasks"] = list(mixing_tasks)
    raw_params["levels"] = [0, 2, 4, 6]  # four levels: a failed manipulation needs an order to break
    raw_params["train"]["seeds"] = list(seeds)
    raw_params["train"]["secondary_seeds"] = list(seeds)
    raw_params["data"]["qa"]["n_train_docs"] = qa_docs
    p = validate(raw_params, root=repo)
    for task in ("story", "qa"):
        _write_runs(tmp_path, task, _losses(p, task, gen_trend), run_noise, seeds, seed_sd, steps)
        div = {
            "real": {"distinct_5": 0.8},
            "real_test": {"mmd_rbf": 0.01, "frechet": 0.5},
            "fixed_r0.5": {"distinct_5": 0.5, "mmd_rbf": 0.05},
        }
        for lv in p.levels:
            div[f"d{lv}"] = {"distinct_5": 0.3 + 0.05 * lv, "mmd_rbf": 0.2 - 0.01 * lv, "frechet": 3.0}
        write_json(tmp_path / f"metrics/diversity/{task}.json", div)
        _write_manipulation(tmp_path, task, p.levels, rises)
        _write_rows(tmp_path, task, p.levels, qa_docs)
    (tmp_path / "reports/figures/maps/story").mkdir(parents=True)
    Image.new("RGB", (8, 8)).save(tmp_path / "reports/figures/maps/story/levels.png")
    Image.new("RGB", (8, 8)).save(tmp_path / "reports/figures/story_lengths.png")
    return p


def _verdicts(text):
    return {
        (m.group(1), m.group(2)): m.group(3)
        for m in re.finditer(r"^\| (.+?) \| (story|qa|both) \| \*\*(.+?)\*\* \|", text, re.M)
    }


TREND = "Test loss falls as diversity rises (Gen-D0 to Gen-D6)"
WORSE = "Gen-D sets are worse than real data (mean over levels of Gen-D − real)"
FIXED = "Fixed-size mixing: generated data raises test loss (mean over rho > 0 − rho = 0)"
QA_EXPAND = "Adding generated data to scarce real data helps (QA)"


def test_findings_follow_the_numbers(tmp_path, repo, raw_params):
    p = _setup(tmp_path, repo, raw_params, gen_trend=-1)
    text = report.run(p, tmp_path).read_text()
    v = _verdicts(text)
    trend = TREND.replace("D6", f"D{p.levels[-1]}")
    assert v[(trend, "story")] == v[(trend, "qa")] == "reproduced"
    assert v[(WORSE, "qa")] == "reproduced"
    assert v[(FIXED, "story")] == "reproduced"
    assert v[("Paraphrasing makes generated QA data less diverse than real data", "qa")] == "reproduced"
    assert v[("Generated stories are more diverse than real stories", "story")] == "not reproduced"
    assert v[(QA_EXPAND, "qa")] == "reproduced"
    assert v[("Adding generated data to scarce real stories hurts (distribution shift)", "story")] == "not reproduced"
    assert v[("More diverse Gen-D QA sets have longer answers", "qa")] == "reproduced"
    assert v[("Generated stories are shifted: longer completions than real", "story")] == "reproduced"
    assert "not run at this scale" in v[("Model size: the 124M model gains from diversity, the 8B model loses", "both")]
    assert text.index("## Manipulation check") < text.index("## Findings of the paper")
    assert "diversity rises with the level" in text and "smallest detectable" in text
    assert "Equal optimizer steps (24 per run)" in text


def test_summary_metrics_have_short_names(tmp_path, repo, raw_params):
    p = _setup(tmp_path, repo, raw_params, gen_trend=-1)
    report.run(p, tmp_path)
    summary = json.loads((tmp_path / "metrics/summary.json").read_text())
    assert summary["loss_story"]["d0"] == pytest.approx(3.0)  # mean of seeds 2.998 and 3.002
    assert summary["loss_qa"]["base"] == pytest.approx(4.0)
    assert set(summary) == {"loss_story", "loss_qa"}


def test_headline_metrics_and_plot_tables_are_small_and_fixed(tmp_path, repo, raw_params):
    """metrics/headline.json (the only `metrics:` file) holds base, real and each level's loss and
    Distinct-5; every set's loss stays in summary.json; the plot tables have dvc.yaml's columns."""
    p = _setup(tmp_path, repo, raw_params, gen_trend=-1)
    for seed in (0, 1):  # a 3-step training curve of real, seeds 0 and 1
        curve = tmp_path / f"metrics/runs/story/real/s{seed}_live/plots/metrics/train/loss.tsv"
        curve.parent.mkdir(parents=True)
        curve.write_text("step\tloss\n" + "".join(f"{s}\t{3.0 - 0.1 * s + 0.2 * seed}\n" for s in (1, 2, 3)))
    report.run(p, tmp_path)
    head = json.loads((tmp_path / "metrics/headline.json").read_text())
    levels = [f"d{lv}" for lv in p.levels]
    assert head["loss_story"] == pytest.approx(
        {"base": 4.0, "real": 2.0, **{f"d{lv}": 3.0 - 0.1 * lv for lv in p.levels}}
    )
    assert set(head["distinct_5_qa"]) == {"real", *levels}
    assert sum(len(v) for v in head.values()) == 2 * (2 + len(levels)) + 2 * (1 + len(levels))
    plots = tmp_path / "reports/plots/story"
    level_rows = (plots / "loss_vs_level.csv").read_text().splitlines()
    assert level_rows[0] == "level,gen_d,real,base" and level_rows[1] == f"{p.levels[0]},3.0,2.0,4.0"
    assert (plots / "fixed_mixing.csv").read_text().splitlines()[0] == "rho,loss"
    expansion = (plots / "expansion.csv").read_text().splitlines()
    assert expansion[0] == "rho,set,loss" and f"0.0,real + d{p.mixing.expand_levels[0]},2.6" in expansion
    assert (plots / "train_loss.csv").read_text().splitlines() == [
        "step,set,loss",
        "1,real,3.0",
        "2,real,2.9",
        "3,real,2.8",
    ]  # mean over the two seeds
    before = {f: f.read_bytes() for f in [tmp_path / "metrics/headline.json", *plots.iterdir()]}
    report.run(p, tmp_path)
    assert {f: f.read_bytes() for f in before} == before


def test_rising_loss_is_reported_as_not_reproduced(tmp_path, repo, raw_params):
    p = _setup(tmp_path, repo, raw_params, gen_trend=+1)
    v = _verdicts(report.run(p, tmp_path).read_text())
    assert v[(TREND.replace("D6", f"D{p.levels[-1]}"), "qa")] == "not reproduced"


def test_effects_smaller_than_test_noise_are_inconclusive_and_say_what_they_could_detect(tmp_path, repo, raw_params):
    """The same means as a clear result, but each run's per-example noise swamps the 0.1-0.3
    differences between sets: the verdicts must say the data cannot tell, and how large an effect
    they could have told."""
    p = _setup(tmp_path, repo, raw_params, gen_trend=-1, run_noise=5.0)
    v = _verdicts(report.run(p, tmp_path).read_text())
    label = re.fullmatch(
        r"inconclusive: no effect larger than (\S+) nats at 95% confidence; 80% power at (\S+)", v[(FIXED, "story")]
    )
    assert label and float(label[1]) > 0 and float(label[2]) > 0
    assert v[(QA_EXPAND, "qa")].startswith("inconclusive: no effect larger than")
    assert v[("Paraphrasing makes generated QA data less diverse than real data", "qa")] == "reproduced"


def test_seed_noise_turns_a_clear_contrast_inconclusive(tmp_path, repo, raw_params):
    """Same means and the same small per-example noise as the clear result, but each seed's loss
    lands 0.3 nats from its set's mean: the contrasts of 0.1-0.3 nats are no longer resolved."""
    p = _setup(tmp_path, repo, raw_params, gen_trend=-1, seed_sd=0.3)
    v = _verdicts(report.run(p, tmp_path).read_text())
    assert v[(FIXED, "story")].startswith("inconclusive: no effect larger than")
    assert v[(QA_EXPAND, "qa")].startswith("inconclusive")


def test_one_seed_is_an_indication_never_reproduced(tmp_path, repo, raw_params):
    p = _setup(tmp_path, repo, raw_params, gen_trend=-1, seeds=(0,))
    text = report.run(p, tmp_path).read_text()
    v = _verdicts(text)
    assert v[(TREND.replace("D6", f"D{p.levels[-1]}"), "story")] == "indication (1 seed): for the claim"
    assert v[(WORSE, "qa")] == "indication (1 seed): for the claim"
    assert "Seed-to-seed variance unmeasured (1 seed)" in text
    assert "| story | d0 | 3.0000 |" in text and "| n/a | 1 | 24 |" in text  # std over seeds: n/a
    assert v[("More diverse Gen-D QA sets have longer answers", "qa")] == "reproduced"  # data, no training


def test_data_claims_on_few_qa_documents_are_indications(tmp_path, repo, raw_params):
    """The same clear QA data effects as above, but spread over 3 training documents: a jackknife
    over 3 clusters cannot measure its own noise, so neither claim may read "reproduced"."""
    p = _setup(tmp_path, repo, raw_params, gen_trend=-1, qa_docs=3)
    text = report.run(p, tmp_path).read_text()
    v = _verdicts(text)
    assert v[("Paraphrasing makes generated QA data less diverse than real data", "qa")] == (
        "indication (3 clusters): for the claim"
    )
    assert v[("More diverse Gen-D QA sets have longer answers", "qa")] == "indication (3 clusters): for the claim"
    assert "jackknife over 3 clusters only" in text
    assert v[("Generated stories are more diverse than real stories", "story")] == "not reproduced"  # 24 stories


def test_failed_manipulation_blocks_the_trend_verdict(tmp_path, repo, raw_params):
    p = _setup(tmp_path, repo, raw_params, gen_trend=-1, rises=False)
    text = report.run(p, tmp_path).read_text()
    v = _verdicts(text)
    trend = TREND.replace("D6", f"D{p.levels[-1]}")
    assert v[(trend, "story")] == v[(trend, "qa")] == "manipulation failed"
    assert v[(WORSE, "story")] == "reproduced"  # not a claim about diversity
    assert "does NOT rise with the level" in text and "Spearman(level, measure): distinct_2" in text


def test_missing_manipulation_file_is_said_and_the_trend_not_judged(tmp_path, repo, raw_params):
    p = _setup(tmp_path, repo, raw_params, gen_trend=-1)
    (tmp_path / "metrics/manipulation/qa.json").unlink()
    text = report.run(p, tmp_path).read_text()
    v = _verdicts(text)
    trend = TREND.replace("D6", f"D{p.levels[-1]}")
    assert v[(trend, "qa")] == "not judged" and v[(trend, "story")] == "reproduced"
    assert v[("Paraphrasing makes generated QA data less diverse than real data", "qa")] == "not judged"
    assert "metrics/manipulation/qa.json absent" in text


def test_unequal_steps_are_stated(tmp_path, repo, raw_params):
    p = _setup(tmp_path, repo, raw_params, gen_trend=-1, steps={"expand_real": 5})
    text = report.run(p, tmp_path).read_text()
    assert "Optimizer steps differ (" in text and "expand_real 5" in text
    assert "| story | expand_real | 2.6000 |" in text and "| 2 | 5 |" in text


def test_missing_per_example_scores_are_not_judged(tmp_path, repo, raw_params):
    p = _setup(tmp_path, repo, raw_params, gen_trend=-1)
    shutil.rmtree(tmp_path / "metrics/examples/story/real")
    v = _verdicts(report.run(p, tmp_path).read_text())
    assert v[(WORSE, "story")] == "not judged"
    assert v[(WORSE, "qa")] == "reproduced"


def test_figures_are_valid_pngs_with_expected_series_and_all_linked(tmp_path, repo, raw_params):
    p = _setup(tmp_path, repo, raw_params, gen_trend=-1)
    text = report.run(p, tmp_path).read_text()
    expected = {
        "loss_vs_diversity.png": {
            "story:gen_loss",
            "story:real_loss",
            "story:base_loss",
            "story:distinct5_norm",
            "qa:gen_loss",
        },
        "fixed_mixing.png": {"story:fixed", "qa:fixed"},
        "expansion.png": {f"{t}:expand_d{lv}" for t in ("story", "qa") for lv in p.mixing.expand_levels},
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
        "story:gen_loss"
    ]["0"] == pytest.approx(3.0)
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
    assert summary["loss_story"]["d0"] == pytest.approx(3.0)  # seed 7 is not in train.seeds


@pytest.mark.parametrize("size_slope, growth_verdict", [(+0.01, "reproduced"), (-0.01, "not reproduced")])
def test_dataset_size_claims_follow_the_numbers(tmp_path, repo, raw_params, size_slope, growth_verdict):
    raw_params["mixing"]["subset_sizes"] = [6, 12]
    p = _setup(tmp_path, repo, raw_params, gen_trend=-1)  # full Gen-D sets: 3.0 - 0.1 x level
    full = p.n_generated("qa")
    for task in ("story", "qa"):
        losses = {"real_n6": 1.9, "real_n12": 1.8}
        losses.update({f"d{lv}_n{n}": 3.0 - 0.1 * lv + size_slope * (n - full) for lv in p.levels for n in (6, 12)})
        _write_runs(tmp_path, task, losses)
    text = report.run(p, tmp_path).read_text()
    v = _verdicts(text)
    worse = "At every dataset size, Gen-D subsets stay worse than the real subset of that size"
    trend = "The diversity trend of experiment 1 (loss falls as diversity rises) holds across dataset sizes"
    growth = "More LLM-generated data can be harmful: larger Gen-D sets give higher test loss"
    assert v[(worse, "story")] == v[(worse, "qa")] == "reproduced"
    assert v[(trend, "story")] == v[(trend, "qa")] == "reproduced"
    assert v[(growth, "qa")] == growth_verdict and (growth, "story") not in v
    series = json.loads(Image.open(tmp_path / "reports/figures/results/dataset_size.png").text["Description"])
    assert set(series["qa:real"]) == {"6", "12", str(p.n_real_train("qa"))}
    assert series["qa:d2"]["6"] == pytest.approx(2.8 + size_slope * (6 - full))  # mean of 2 seeds
    d2 = [2.8 + size_slope * (n - full) for n in (6, 12, full)]
    assert f"| set | n = 6 | n = 12 | n = {full} |" in text and "| d2 | {:.4f} | {:.4f} | {:.4f} |".format(*d2) in text


def test_dataset_size_section_says_how_to_run_it_when_off(tmp_path, repo, raw_params):
    p = _setup(tmp_path, repo, raw_params, gen_trend=-1)
    text = report.run(p, tmp_path).read_text()
    runs = 2 * (1 + len(p.levels)) * 2
    assert f"Not run at this scale: `mixing.subset_sizes` is empty. Each size adds {runs} fine-tuning runs" in text
    assert not (tmp_path / "reports/figures/results/dataset_size.png").exists()


def test_grids_left_out_of_mixing_tasks_are_reported_not_run(tmp_path, repo, raw_params):
    p = _setup(tmp_path, repo, raw_params, gen_trend=-1, mixing_tasks=["qa"])
    text = report.run(p, tmp_path).read_text()
    v = _verdicts(text)
    assert "not run" in v[("Fixed-size mixing and expansion with generated data", "story")]
    assert (FIXED, "qa") in v and (FIXED, "story") not in v
    assert "profiles/full.yaml" in text
