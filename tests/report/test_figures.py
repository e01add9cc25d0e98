"""Report figures say what they show: units, n, seeds and what their error bars are (the verdicts'
estimate), read from the titles and labels each PNG records; REPORT.md captions every figure."""

import json
import re

import pytest
from PIL import Image
from test_assemble import _setup

from gendiv.figure_file import TEXT_KEY
from gendiv.io import write_json
from gendiv.report import assemble as report
from gendiv.report import results

LOSS_FIGURES = ("loss_vs_diversity.png", "fixed_mixing.png", "expansion.png")


def _recorded(root, name):
    with Image.open(root / "reports/figures/results" / name) as img:
        assert "Software" not in img.text  # deterministic bytes: no version or date chunk
        return json.loads(img.text["Description"])


@pytest.mark.parametrize("seeds", [(0, 1), (0,)])
def test_loss_figures_state_units_n_seeds_and_their_error_bars(tmp_path, repo, raw_params, seeds):
    p = _setup(tmp_path, repo, raw_params, gen_trend=-1, seeds=seeds)
    report.run(p, tmp_path)
    for name in LOSS_FIGURES:
        text = "\n".join(_recorded(tmp_path, name)[TEXT_KEY])
        assert "test loss (nats per completion token)" in text, name
        assert "mean cross-entropy on the real test set, in nats per completion token" in text, name
        assert f"n = 60 test examples, {len(seeds)} seed(s) per set" in text, name  # story
        assert f"n = 60 test examples in 60 documents, {len(seeds)} seed(s) per set" in text, name  # qa
        assert "± 1.96 s.e. of the paired difference to" in text and "training seeds" in text, name
    levels = _recorded(tmp_path, "loss_vs_diversity.png")
    d2 = results.loss_difference(
        results.example_scores(tmp_path, "story", "d2", list(seeds)),
        results.example_scores(tmp_path, "story", "real", list(seeds)),
    )
    assert levels["story:gen_loss_bar"]["2"] == pytest.approx(1.96 * d2.se)  # the verdicts' estimate, drawn
    expansion = _recorded(tmp_path, "expansion.png")
    bars = expansion[f"story:expand_d{p.mixing.expand_levels[0]}_bar"]
    assert bars["0.0"] == 0.0 and all(b > 0 for r, b in bars.items() if r != "0.0")


def test_report_captions_each_figure_with_its_own_alt_text(tmp_path, repo, raw_params):
    p = _setup(tmp_path, repo, raw_params, gen_trend=-1)
    (tmp_path / "reports/figures/maps/qa").mkdir(parents=True)
    Image.new("RGB", (8, 8)).save(tmp_path / "reports/figures/maps/qa/levels.png")
    lines = report.run(p, tmp_path).read_text().splitlines()
    images = [(i, m.group(1)) for i, line in enumerate(lines) if (m := re.fullmatch(r"!\[(.+)\]\(.+\.png\)", line))]
    alts = [alt for _, alt in images]
    assert len(images) >= 5 and len(set(alts)) == len(alts), alts
    assert any("qa" in a and "levels" in a for a in alts) and any("story" in a and "levels" in a for a in alts)
    for i, alt in images:
        assert lines[i + 1] == "" and re.fullmatch(r"\*.+\*", lines[i + 2]), (alt, lines[i + 2])


def test_distance_table_holds_distances_only(tmp_path, repo, raw_params):
    p = _setup(tmp_path, repo, raw_params, gen_trend=-1)
    shift = {"mmd2_rbf": 0.1, "mmd2_rbf_p": 0.01, "mmd_bandwidth": 0.7, "frechet": 2.0, "distance_n": 15}
    write_json(
        tmp_path / "metrics/diversity/story.json",
        {"real": {"distinct_5": 0.8, "dcscore": 5.0, "vendi": 9.0}, "d0": {"distinct_5": 0.3, **shift, "vendi": 4.0}},
    )
    text = report.run(p, tmp_path).read_text()
    assert "**story**: distance to real (n = 15 samples per set)" in text
    assert "| set | mmd2_rbf | mmd2_rbf_p | frechet |" in text and "| d0 | 0.1000 | 0.0100 | 2.0000 |" in text
    assert "| set | dcscore | vendi |" in text and "| real | 5.0000 | 9.0000 |" in text
    assert "mmd_bandwidth" not in text
    assert "sec. 4.2 (Zhu et al., arXiv 2506.19262)" in text  # where the paper's Distinct-5 values come from
