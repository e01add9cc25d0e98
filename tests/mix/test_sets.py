"""Mixed sets: sizes, ratios, nesting, provenance and byte-identical reruns."""

import hashlib
import shutil

import pytest

from gendiv.config import validate
from gendiv.errors import UserError
from gendiv.io import read_json, read_jsonl, write_jsonl
from gendiv.layout import card_path, dataset_path, mixed_names
from gendiv.mix import sets as mix


def _rows(prefix, n, docs=None):
    """Story rows in the one schema; prefix "real" makes real rows, "gen<l>" Gen-D<l> rows."""
    source = "real" if prefix == "real" else f"d{prefix[3:]}" if prefix.startswith("gen") else prefix
    rows = []
    for i in range(n):
        row = {"id": f"{prefix}-{i}", "context": f"{prefix} context {i}", "completion": f"end {i}", "source": source}
        if docs:
            row["document_id"] = f"doc{i % docs}"
        rows.append(row)
    return rows


@pytest.fixture
def params(raw_params, repo):
    raw_params["levels"] = [0, 2, 4, 6]
    raw_params["mixing"].update(
        tasks=["story", "qa"],
        generated_level=6,
        fixed_real_fraction=0.6,
        fixed_ratios=[0.0, 0.25, 0.5],
        expand_real_fraction=0.2,
        expand_levels=[2, 4],
        expand_ratios=[0.5, 0.75],
        subset_sizes=[10],
    )
    return validate(raw_params, root=repo)


@pytest.fixture
def workdir(tmp_path, monkeypatch, params, repo):
    monkeypatch.chdir(tmp_path)
    shutil.copytree(repo / "data/bundled", tmp_path / "data/bundled")  # params files written here are validated here
    write_jsonl(dataset_path("story", "real"), _rows("real", 100))
    for lv in params.levels:
        write_jsonl(dataset_path("story", f"d{lv}"), _rows(f"gen{lv}", 100))
    return tmp_path


def test_sizes_ratios_and_nesting(params):
    real = _rows("real", 100)
    sets = mix.build_mixes(params, "story", real, {lv: _rows(f"gen{lv}", 100) for lv in params.levels})
    assert list(sets) == mixed_names(params, "story")
    for rho in (0.0, 0.25, 0.5):
        rows = sets[f"fixed_r{rho}"]
        gen = [r for r in rows if r["source"] == "d6"]
        assert len(rows) == 60 and len(gen) == round(rho * 60)
        assert all(r["id"].startswith("gen6-") for r in gen)
    real_ids = lambda name: {r["id"] for r in sets[name] if r["source"] == "real"}  # noqa: E731
    assert real_ids("fixed_r0.5") < real_ids("fixed_r0.25") < real_ids("fixed_r0.0")
    assert len(sets["expand_real"]) == 20
    for lv in (2, 4):
        for rho, n_gen in ((0.5, 20), (0.75, 60)):
            rows = sets[f"expand_d{lv}_r{rho}"]
            assert real_ids(f"expand_d{lv}_r{rho}") == real_ids("expand_real")
            assert [r["source"] for r in rows].count(f"d{lv}") == n_gen
    assert len(sets["d4_n10"]) == 10 and {r["source"] for r in sets["d4_n10"]} == {"d4"}
    assert len({r["id"] for r in sets["fixed_r0.5"]}) == 60  # no row drawn twice


def test_seed_changes_the_draw(params, raw_params, repo):
    real = _rows("real", 100)
    gen = {lv: _rows(f"gen{lv}", 100) for lv in params.levels}
    other = validate({**raw_params, "seed": 1}, root=repo)
    a = mix.build_mixes(params, "story", real, gen)["fixed_r0.25"]
    b = mix.build_mixes(other, "story", real, gen)["fixed_r0.25"]
    assert {r["id"] for r in a} != {r["id"] for r in b}


def test_qa_draws_are_balanced_over_contexts():
    order = mix.seeded_order(_rows("real", 40, docs=4), 0, "qa:real")
    first = [r["document_id"] for r in order[:8]]
    assert sorted(first) == ["doc0", "doc0", "doc1", "doc1", "doc2", "doc2", "doc3", "doc3"]


def test_command_writes_identical_bytes_and_removes_stale_sets(workdir, params):
    params_file = workdir / "params.yaml"
    import yaml

    params_file.write_text(yaml.safe_dump(params.model_dump()))
    stale = dataset_path("story", "fixed_r0.9")
    write_jsonl(stale, _rows("old", 3))
    mix.main(task="story", params=params_file)
    digest = lambda: {  # noqa: E731
        str(f): hashlib.sha256(f.read_bytes()).hexdigest()
        for f in sorted((workdir / "data/mixed/story").rglob("*"))
        if f.is_file()
    }
    first = digest()
    assert not stale.exists()
    mix.main(task="story", params=params_file)
    assert digest() == first
    summary = read_json(workdir / "data/mixed/story/summary.json")
    assert summary["fixed_r0.25"] == {"n": 60, "n_real": 45, "n_generated": 15, "generated_share": 0.25}
    expanded = read_jsonl(dataset_path("story", "expand_d2_r0.5"))
    assert {r["source"] for r in expanded} == {"real", "d2"}
    assert (workdir / card_path("story", "expand_d2_r0.5")).is_file()


def test_real_and_generated_rows_are_interleaved_in_a_seeded_order(params, raw_params, repo):
    real = _rows("real", 100)
    gen = {lv: _rows(f"gen{lv}", 100) for lv in params.levels}
    rows = mix.build_mixes(params, "story", real, gen)["fixed_r0.5"]
    sources = [r["source"] for r in rows]
    assert sources[:30] != ["real"] * 30 and sources != sorted(sources)  # not real first, then generated
    again = mix.build_mixes(params, "story", real, gen)["fixed_r0.5"]
    other = mix.build_mixes(validate({**raw_params, "seed": 1}, root=repo), "story", real, gen)["fixed_r0.5"]
    assert [r["id"] for r in again] == [r["id"] for r in rows]
    assert [r["id"] for r in other] != [r["id"] for r in rows]


def test_missing_generated_set_is_a_user_error(workdir, params):
    import yaml

    dataset_path("story", "d4").unlink()
    params_file = workdir / "params.yaml"
    params_file.write_text(yaml.safe_dump(params.model_dump()))
    with pytest.raises(UserError, match="d4/train.jsonl"):
        mix.main(task="story", params=params_file)
    assert not (workdir / "data/mixed").exists()


def test_grids_off_for_a_task_outside_mixing_tasks(raw_params, repo):
    raw_params["mixing"].update(tasks=["qa"], subset_sizes=[10])
    p = validate(raw_params, root=repo)
    gen = {lv: _rows(f"gen{lv}", 100) for lv in p.levels}
    assert list(mix.build_mixes(p, "story", _rows("real", 100), gen)) == [
        f"{src}_n10" for src in ["real"] + [f"d{lv}" for lv in p.levels]
    ]
    assert "expand_real" in mix.build_mixes(p, "qa", _rows("real", 100), gen)
