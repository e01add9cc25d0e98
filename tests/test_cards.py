"""Set folders are Hugging Face datasets: one schema across files, a card with its metadata."""

import shutil

import pytest
import yaml

from gendiv.cards import params_section, write_set
from gendiv.config import validate
from gendiv.io import read_jsonl
from gendiv.layout import card_path, dataset_dir, dataset_path
from gendiv.mix.sets import build_mixes
from gendiv.prepare import real as prepare_real


def _front_matter(path):
    text = path.read_text(encoding="utf-8")
    assert text.startswith("---\n")
    return yaml.safe_load(text.split("---\n")[1])


@pytest.fixture
def workdir(tmp_path, monkeypatch, repo):
    monkeypatch.chdir(tmp_path)
    shutil.copytree(repo / "data/bundled", tmp_path / "data/bundled")
    return tmp_path


def _generated(task, real, level):
    """Generated rows as the generation stages write them (provenance columns filled)."""
    rows = []
    for i, row in enumerate(real):
        gen = {**row, "id": f"{task}-d{level}-{i:06d}", "source": f"d{level}", "level": level}
        gen.update(generator="hf:models/generators/gemma3", template_version="tmpl@2")
        if task == "story":
            gen["topic"] = f"topic {i % 3}"
        else:
            gen.update(kind="paraphrase" if i % 2 else "generated", source_id=row["id"] if i % 2 else "")
            gen["source_question"] = row["question"] if i % 2 else ""
        rows.append(gen)
    return rows


@pytest.mark.parametrize("task", ["story", "qa"])
def test_any_mix_of_real_generated_and_mixed_files_loads_as_one_table(workdir, raw_params, repo, task):
    from datasets import load_dataset

    raw_params["mixing"].update(tasks=[task], generated_level=6)
    p = validate(raw_params, root=repo)
    prepare_real.run(p, task, workdir)
    real = read_jsonl(dataset_path(task, "real"))
    gen = write_set(task, "d6", _generated(task, real, 6), "test", {})
    for lv in p.mixing.expand_levels:
        write_set(task, f"d{lv}", _generated(task, real, lv), "test", {})
    mixes = build_mixes(p, task, real, {lv: read_jsonl(dataset_path(task, f"d{lv}")) for lv in (0, 6)})
    write_set(task, "fixed_r0.5", mixes["fixed_r0.5"], "test", {})

    files = [str(dataset_path(task, n)) for n in ("real", "d6", "fixed_r0.5")]
    loaded = load_dataset("json", data_files=files, split="train")
    assert loaded.num_rows == len(real) + len(gen) + len(mixes["fixed_r0.5"])
    assert loaded.features["level"].dtype == "int64" and loaded.features["generator"].dtype == "string"
    # generated first, then real: the column types do not depend on which file comes first
    assert load_dataset("json", data_files=files[::-1], split="train").num_rows == loaded.num_rows
    # the folder alone is a dataset: its card's configs name the splits
    folder = load_dataset(str(dataset_dir(task, "real")))
    assert folder["train"].num_rows == len(real)
    assert folder["test"].num_rows == len(read_jsonl(dataset_dir(task, "real") / "test.jsonl"))


def test_card_records_provenance_counts_terms_and_params(workdir, raw_params, repo):
    p = validate(raw_params, root=repo)
    prepare_real.run(p, "story", workdir)
    real = read_jsonl(dataset_path("story", "real"))
    write_set("story", "d3", _generated("story", real, 3), "gendiv generate-story --level 3", params_section(p, "seed"))
    meta = _front_matter(card_path("story", "d3"))
    assert meta["license"] == "other" and meta["task_categories"] == ["text-generation"]
    assert meta["configs"] == [{"config_name": "default", "data_files": [{"split": "train", "path": "train.jsonl"}]}]
    g = meta["gendiv"]
    assert g["made_by"] == "gendiv generate-story --level 3" and g["params"] == {"seed": p.seed}
    assert g["generators"] == ["hf:models/generators/gemma3"] and g["template_versions"] == ["tmpl@2"]
    assert g["counts"] == {"rows": len(real), "by_source": {"d3": len(real)}, "by_level": {"3": len(real)}, "topics": 3}
    body = card_path("story", "d3").read_text(encoding="utf-8")
    assert "Gemma Terms of Use" in body and "## Intended use" in body and "| completion" in body
    real_meta = _front_matter(card_path("story", "real"))
    assert real_meta["tags"] == ["gendiv", "human-written"] and real_meta["gendiv"]["generators"] == []
    assert [s["name"] for s in real_meta["dataset_info"]["splits"]] == ["train", "test"]


def test_the_same_rows_give_the_same_bytes(workdir, raw_params, repo):
    p = validate(raw_params, root=repo)
    prepare_real.run(p, "qa", workdir)
    first = {f: f.read_bytes() for f in sorted(dataset_dir("qa", "real").iterdir())}
    prepare_real.run(p, "qa", workdir)
    assert {f: f.read_bytes() for f in sorted(dataset_dir("qa", "real").iterdir())} == first
