"""`gendiv measure` end to end on tiny in-process sets with synthetic embeddings."""

import json
import random
import re
import zlib

import numpy as np
import pytest
from PIL import Image

from gendiv.config import validate
from gendiv.errors import UserError
from gendiv.figure_file import TEXT_KEY
from gendiv.io import read_json, read_jsonl, write_json, write_jsonl
from gendiv.measure.distinct import distinct_per_group, whitespace_tokens
from gendiv.measure.embeddings import TOPICS_EMBEDDINGS, TOPICS_FILE, embedding_path, save_array
from gendiv.measure.sets import comparison_group, measured_sets, set_path
from gendiv.measure.stage import measure

WORDS = (
    "tom anna went to the store park school he she bought found lost a red blue "
    "ball book cake and was happy sad tired later then home"
).split()


@pytest.fixture
def tokenizer():
    """A tiny word-level fast tokenizer (stands in for the base model's)."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {"[UNK]": 0, **{w: i + 1 for i, w in enumerate(WORDS)}}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]")


@pytest.fixture
def params(raw_params, repo):
    raw_params["measure"].update(map_samples=12, score_samples=15)
    raw_params["mixing"].update(tasks=["story", "qa"], fixed_ratios=[0.5], expand_levels=[1], expand_ratios=[0.5])
    raw_params["levels"] = [0, 1, 2, 3, 4, 5, 6]
    return validate(raw_params, root=repo)


def _sentence(rng, k):
    return " ".join(rng.choice(WORDS) for _ in range(k)) + "."


def _story_rows(seed, n, varied=True, long=False):
    rng = random.Random(seed)
    fixed = _sentence(rng, 8)
    return [
        {
            "id": f"{seed}-{i}",
            "context": _sentence(rng, 8) if varied else fixed,
            "completion": _sentence(rng, 12 if long else 4),
        }
        for i in range(n)
    ]


def _qa_rows(seed, n, docs=3):
    rng = random.Random(seed)
    return [
        {
            "id": f"{seed}-{i}",
            "document_id": f"doc{i % docs}",
            "context": "ctx",
            "question": _sentence(rng, 5),
            "answer": _sentence(rng, 2),
            "kind": "real",
        }
        for i in range(n)
    ]


TOPICS = ["cats", "rain", "school", "boats"]


def _write_topics():
    """A topic pool whose embeddings are the first unit axes (stories of a topic lean on its axis)."""
    write_json(TOPICS_FILE, {"topics": TOPICS})
    save_array(TOPICS_EMBEDDINGS, np.eye(len(TOPICS), 16, dtype=np.float32))


def _generated(rows, name, real):
    """Gen-D rows carry their topic; a mixed set's first half is real train's rows (their ids kept)."""
    if name.startswith("d"):
        return [{**r, "topic": TOPICS[i % (int(name[1]) % 4 + 1)], "generator": "g"} for i, r in enumerate(rows)]
    if name.startswith(("fixed_", "expand_")):
        half = len(rows) // 2
        return real[:half] + [{**r, "source": "d6"} for r in rows[half:]]
    return rows


def _write(task, sets, rows_of, shift_of):
    """Data files plus unit-norm embeddings (a set's cloud is shifted by shift_of[name])."""
    for name, path in sets:
        rows = rows_of(name)
        write_jsonl(path, rows)
        rng = np.random.default_rng(zlib.crc32(name.encode()) % 1000)
        x = rng.normal(size=(len(rows), 16)) + shift_of.get(name, 0.0)
        save_array(embedding_path(task, name), (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32))


def test_story_metrics_figures_and_plot_tables(params, tokenizer, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    sets = measured_sets(params, "story")
    names = [n for n, _ in sets]
    assert names[:3] == ["real", "real_test", "d0"] and "fixed_r0.5" in names and "expand_d1_r0.5" in names

    def rows_of(name):
        if name == "d0":
            return _story_rows(1, 30, varied=False)  # one context repeated: low diversity
        return _story_rows(zlib.crc32(name.encode()) % 97, 30, long=name == "d6")

    _write("story", sets, lambda name: _generated(rows_of(name), name, rows_of("real")), {"d6": 3.0})
    _write_topics()
    metrics = measure(params, "story", sets, tokenizer)

    assert set(metrics) == set(names)
    assert metrics["d0"]["distinct_5"] < metrics["real"]["distinct_5"]
    levels = [n for n in names if comparison_group(n) == "levels"]
    assert max(metrics[n]["distinct_5_norm"] for n in levels) == 1.0
    top = max(levels, key=lambda n: metrics[n]["distinct_5"])
    assert metrics["d0"]["distinct_5_norm"] == pytest.approx(
        metrics["d0"]["distinct_5"] / metrics[top]["distinct_5"], rel=1e-5
    )
    assert metrics["real_test"]["distinct_5_norm"] == 1.0  # a group of its own
    assert metrics["d6"]["completion_words_mean"] > 2 * metrics["real"]["completion_words_mean"]
    assert metrics["d6"]["completion_tokens_mean"] > 2 * metrics["real"]["completion_tokens_mean"]
    assert metrics["d6"]["mmd2_rbf"] > 5 * abs(metrics["real_test"]["mmd2_rbf"])
    assert metrics["d6"]["frechet"] > metrics["real_test"]["frechet"]
    assert metrics["d6"]["mmd2_rbf_p"] < 0.01 < metrics["real_test"]["mmd2_rbf_p"]
    assert "mmd2_rbf" not in metrics["real"] and "frechet" not in metrics["real"]
    # distances at one sample count (score_samples = 15 here, every set has 30 rows)
    assert {metrics[n]["distance_n"] for n in names if n != "real"} == {15}
    shared = {n for n in names if metrics[n]["shares_rows_with_real_train"]}
    assert shared == {"real"} | {n for n in names if n.startswith(("fixed_", "expand_"))}
    assert metrics["d6"]["vendi"] < metrics["d1"]["vendi"]  # a shifted cloud is more concentrated
    assert metrics["real"]["ngram_diversity"] == pytest.approx(
        sum(metrics["real"][f"distinct_{n}"] for n in range(1, 6)), rel=1e-5
    )

    saved = read_json("metrics/diversity/story.json")
    assert saved == metrics and all(isinstance(v, (int, float)) for m in saved.values() for v in m.values())
    checked = read_json("metrics/manipulation/story.json")
    assert checked["n_per_set"] == 15 and set(checked["sets"]) == {"real", *[f"d{lv}" for lv in range(7)], "real_test"}
    assert checked["sets"]["d2"]["topics_used"] == {"value": 3, "se": 0.0, "n": 30}
    assert "topics_used" not in checked["sets"]["real"]
    assert {m["n"] for m in checked["sets"]["real"].values()} == {15}
    assert checked["distances"]["reference"] == "real_test" and "negative" in checked["distances"]["mmd2_rbf_note"]
    table = (tmp_path / "reports/plots/story/diversity.csv").read_text().splitlines()
    assert table[0].startswith("dataset,group,") and len(table) == len(names) + 1
    curves = (tmp_path / "reports/plots/story/distinct_n.csv").read_text().splitlines()
    assert curves[0] == "n,set,distinct_norm" and len(curves) == 1 + 5 * len(names)
    assert f"5,d0,{metrics['d0']['distinct_5_norm']}" in curves
    for unit in ("words", "tokens"):
        table = (tmp_path / f"reports/plots/story/length_{unit}.csv").read_text().splitlines()
        d6 = [float(r.split(",")[2]) for r in table[1:] if r.split(",")[1] == "d6"]
        assert table[0] == f"{unit},set,share" and sum(d6) == pytest.approx(1.0, abs=1e-4)
    assert (tmp_path / "reports/figures/story_lengths.png").read_bytes()[:4] == b"\x89PNG"
    maps = sorted(p.name for p in (tmp_path / "reports/figures/maps/story").iterdir())
    assert maps == ["expand.png", "fixed.png", "levels.png", "reference.png"]
    with Image.open(tmp_path / "reports/figures/maps/story/levels.png") as img:
        assert "Software" not in img.text
        recorded = json.loads(img.text["Description"])
    labels = recorded[TEXT_KEY]
    assert recorded["points"]["real"] == 12 and all(
        f"{n} ({k} points)" in labels for n, k in recorded["points"].items() if n != "real"
    )
    assert any(re.fullmatch(r"PC1 of the real sample \(\d+% of its variance\)", t) for t in labels)
    assert labels.count("real training sample\n(12 points)") == 1  # one legend for every panel
    with Image.open(tmp_path / "reports/figures/story_lengths.png") as img:
        recorded = json.loads(img.text["Description"])
    assert any("whiskers: the furthest point within 1.5 x IQR" in t for t in recorded[TEXT_KEY])
    assert recorded["words"]["d6"] == recorded["tokens"]["real"] == 30  # n per set, shown under each box

    # same inputs -> byte-identical outputs
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file() and "data" not in p.parts}
    assert tmp_path / "metrics/manipulation/story.json" in before
    measure(params, "story", sets, tokenizer)
    assert {p: p.read_bytes() for p in before} == before

    # a group no longer measured leaves no map behind
    fewer = [(n, path) for n, path in sets if not n.startswith("fixed_")]
    measure(params, "story", fewer, tokenizer)
    assert not (tmp_path / "reports/figures/maps/story/fixed.png").exists()


def test_qa_distinct_is_summed_over_contexts(params, tokenizer, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    sets = [(n, set_path("qa", n)) for n in ("real", "real_test", "d0")]
    _write("qa", sets, lambda name: _qa_rows(len(name), 24, docs=4 if name == "real" else 3), {})
    metrics = measure(params, "qa", sets, tokenizer)

    rows = read_jsonl(set_path("qa", "real"))
    per = distinct_per_group(
        [whitespace_tokens(f"{r['question']} {r['answer']}") for r in rows], [r["document_id"] for r in rows], 5
    )
    assert metrics["real"]["n_contexts"] == 4
    assert metrics["real"]["distinct_5"] == pytest.approx(per[5].sum(), rel=1e-5)
    assert metrics["real"]["distinct_5_context_mean"] == pytest.approx(per[5].mean(), rel=1e-5)
    assert "answer_words_mean" in metrics["d0"]


def test_missing_and_stale_inputs_are_named_and_nothing_is_written(params, tokenizer, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    sets = [(n, set_path("story", n)) for n in ("real", "d0")]
    write_jsonl(sets[0][1], _story_rows(0, 5))
    with pytest.raises(UserError, match=r"data/generated/story/d0/train.jsonl.*data/embeddings/story/real.npy"):
        measure(params, "story", sets, tokenizer)
    _write("story", sets, lambda name: _story_rows(0, 5), {})
    write_jsonl(sets[1][1], _story_rows(0, 6))  # the data changed after embedding
    with pytest.raises(UserError, match="stale embeddings"):
        measure(params, "story", sets, tokenizer)
    assert not (tmp_path / "metrics").exists() and not (tmp_path / "reports").exists()


def test_comparison_groups():
    assert [
        comparison_group(n)
        for n in ("real", "d3", "real_test", "fixed_r0.25", "expand_real", "expand_d1_r0.5", "real_n50", "d2_n50")
    ] == ["levels", "levels", "reference", "fixed", "expand", "expand", "n50", "n50"]
    with pytest.raises(ValueError):
        comparison_group("other")


def test_qa_distances_compare_equal_counts_against_held_out_questions(params, tokenizer, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    names = ("real", "real_test", "d0")
    sizes = {"real": 24, "real_test": 32, "d0": 24}

    def rows_of(name):
        rows = _qa_rows(len(name), sizes[name], docs=4 if name == "real_test" else 3)
        if name == "d0":  # a third are paraphrases: they keep real answers
            rows = [
                {**r, "generator": "g", "kind": "paraphrase" if i % 3 == 0 else "generated"} for i, r in enumerate(rows)
            ]
        return rows

    sets = [(n, set_path("qa", n)) for n in names]
    _write("qa", sets, rows_of, {})
    metrics = measure(params, "qa", sets, tokenizer)
    assert metrics["real_test"]["distance_n"] == metrics["d0"]["distance_n"] == 15  # score_samples caps 24
    assert metrics["d0"]["shares_rows_with_real_train"] and not metrics["real_test"]["shares_rows_with_real_train"]
    checked = read_json("metrics/manipulation/qa.json")
    assert checked["distances"]["reference"] == "real_test"
    assert "writes no held-out" in checked["distances"]["reference_note"]
    assert checked["sets"]["d0"]["real_answer_share"]["value"] == pytest.approx(1 / 3, abs=0.1)
    assert checked["sets"]["real_test"]["real_answer_share"]["value"] == 1.0

    # held-out questions of the training documents become the reference once prepare_real writes them
    heldout = ("real_heldout", set_path("qa", "real_heldout"))
    assert heldout[1].name == "heldout.jsonl" and "real_heldout" not in dict(measured_sets(params, "qa"))
    _write("qa", [heldout], lambda name: _qa_rows(7, 20, docs=3), {})
    assert [n for n, _ in measured_sets(params, "qa")][:3] == ["real", "real_test", "real_heldout"]
    metrics = measure(params, "qa", [*sets, heldout], tokenizer)
    checked = read_json("metrics/manipulation/qa.json")
    assert checked["distances"]["reference"] == "real_heldout" and "real_heldout" not in checked["sets"]
    assert metrics["real_heldout"]["distance_n"] == 15 and comparison_group("real_heldout") == "reference"
