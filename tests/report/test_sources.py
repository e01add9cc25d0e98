"""Source-diversity claims: judged on paired per-prompt differences, not on typed-in numbers."""

from __future__ import annotations

import json

import numpy as np
from PIL import Image

from gendiv.config import load_params, validate
from gendiv.figure_file import TEXT_KEY
from gendiv.io import write_json
from gendiv.measure.output_diversity import METRICS, OUT_DIR
from gendiv.report.sources import FIGURE, claims, compare, section
from gendiv.report.stats import Verdict

N = 12


def _prompts(distinct: float, bleu: float, spread: float, noise: float = 0.01, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    return {
        "distinct_2": (distinct + noise * rng.standard_normal(N)).tolist(),
        "self_bleu": (bleu + noise * rng.standard_normal(N)).tolist(),
        "embedding_spread": (spread + noise * rng.standard_normal(N)).tolist(),
    }


def _per_prompt(multi_gain: float) -> dict:
    return {
        "base": _prompts(0.9, 0.1, 0.6, seed=1),
        "real": _prompts(0.85, 0.15, 0.55, seed=2),
        "src_smollm2": _prompts(0.6, 0.4, 0.3, seed=3),
        "src_gemma3": _prompts(0.62, 0.38, 0.32, seed=4),
        "src_multi": _prompts(0.6 + multi_gain, 0.4 - multi_gain, 0.3 + multi_gain, seed=5),
    }


def test_compare_counts_only_differences_beyond_the_rule():
    pp = _per_prompt(0.2)
    assert compare(pp, "src_multi", "src_smollm2").majority
    weak = compare(_per_prompt(0.0), "src_multi", "src_smollm2")
    assert not weak.majority and "±" in weak.evidence()


def _params(raw_params, repo, seeds):
    raw_params["train"]["seeds"] = seeds
    raw_params["train"]["secondary_seeds"] = seeds  # the source-diversity runs' seeds
    return validate(raw_params, root=repo)


def test_verdicts_follow_the_numbers(repo, raw_params):
    p = _params(raw_params, repo, [0, 1, 2])
    verdicts = [v for _, v, _ in claims(p, _per_prompt(0.2))]
    assert verdicts == ["reproduced", "reproduced", "reproduced"]  # self-preference: gendiv.report.self_preference
    assert claims(p, _per_prompt(0.0))[0][1] != Verdict.REPRODUCED.value
    narrower = claims(p, _per_prompt(-0.2))[0]  # multi-source clearly narrower
    assert narrower[1] == Verdict.NOT_REPRODUCED.value and "✗" in narrower[2] and "✓" not in narrower[2]
    one_seed = _params(raw_params, repo, [0])
    assert claims(one_seed, _per_prompt(0.2))[0][1] == "indication (1 seed): for the claim"
    assert claims(one_seed, _per_prompt(-0.2))[0][1] == "indication (1 seed): against the claim"


def test_section_renders_tables_and_a_figure_with_its_series(repo, raw_params, tmp_path):
    p = _params(raw_params, repo, [0, 1])
    assert "has not run" in "\n".join(section(p, tmp_path))
    pp = _per_prompt(0.2)
    models = {
        n: {
            "intra": {**{k: float(np.mean(v)) for k, v in m.items()}, **{f"{k}_se": 0.01 for k in m}},
            "inter": {k: float(np.mean(v)) for k, v in m.items()},
        }
        for n, m in pp.items()
    }
    data = {n: {"n_samples": 48, "distinct_2": 0.5, "embedding_spread": 0.7} for n in list(pp)[1:]}
    write_json(tmp_path / METRICS, {"models": models, "data": data, "n_prompts": N, "samples_per_prompt": 4})
    write_json(tmp_path / OUT_DIR / "per_prompt.json", pp)
    text = "\n".join(section(p, tmp_path))
    assert "| src_multi |" in text and "**reproduced**" in text and "source_diversity.png" in text
    with Image.open(tmp_path / FIGURE) as img:
        assert "Software" not in img.text
        series = json.loads(img.text["Description"])
    assert series["intra.distinct_2"]["src_multi"] == models["src_multi"]["intra"]["distinct_2"]
    labels = "\n".join(series[TEXT_KEY])  # title, y units, n and seeds, what the bars are
    assert "Diversity of the fine-tuned models' outputs" in labels and "self-BLEU (0-1)" in labels
    assert f"n = {N} held-out prompts x 4 samples per model; 2 training seed(s)" in labels
    assert "bars ± 1.96 s.e. over prompts" in labels


def test_test_loss_lines_pair_multi_source_with_each_single_source(repo, tmp_path):
    from gendiv.report.sources import test_loss_lines
    from gendiv.train.runs import examples_path

    p = load_params(repo / "params.yaml")
    assert "per-example scores missing for real" in test_loss_lines(p, tmp_path)[0]
    shared = np.linspace(1.0, 3.0, N)  # hard and easy test examples, the same for every model
    for name, shift in (("real", 0.0), ("src_smollm2", 0.3), ("src_gemma3", 0.2), ("src_multi", 0.1)):
        write_json(
            tmp_path / examples_path("story", name, 0),
            {"id": [f"t{i}" for i in range(N)], "nll": list(2 * (shared + shift)), "tokens": [2] * N},
        )
    text = "\n".join(test_loss_lines(p, tmp_path))
    assert "| src_smollm2 | " in text and "-0.2000 ± 0.0000" in text and "-0.1000 ± 0.0000" in text
    assert "| real | 2.0000 | +0.1000 ± 0.0000 |" in text
