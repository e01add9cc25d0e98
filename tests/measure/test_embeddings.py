"""Sentence embeddings: offline model resolution and the `gendiv embed` stage (real model)."""

from pathlib import Path

import numpy as np
import pytest

from gendiv.errors import UserError
from gendiv.io import write_jsonl
from gendiv.measure import embeddings
from gendiv.measure.embeddings import main, resolve_model, sample_text


def test_packaged_model_resolves_to_its_directory_and_hub_ids_need_the_hub(monkeypatch, tmp_path):
    path = Path(resolve_model("all-MiniLM-L6-v2"))
    assert (path / "modules.json").is_file() and (path / "model.safetensors").is_file()
    assert resolve_model(str(tmp_path)) == str(tmp_path)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(UserError, match="HF_HUB_OFFLINE"):
        resolve_model("sentence-transformers/all-mpnet-base-v2")
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    assert resolve_model("sentence-transformers/all-mpnet-base-v2") == "sentence-transformers/all-mpnet-base-v2"


def test_sample_text_per_task():
    assert sample_text("story", {"context": "A b. ", "completion": " C."}) == "A b. C."
    assert sample_text("qa", {"question": "Who?", "answer": "Tom", "context": "x"}) == "Who? Tom"


def test_embed_stage_writes_deterministic_unit_vectors(tmp_path, monkeypatch, repo):
    monkeypatch.chdir(tmp_path)
    rows = [
        {"id": "1", "context": "The cat sat on the mat.", "completion": "It purred happily."},
        {"id": "2", "context": "A kitten slept on the rug.", "completion": "It purred softly."},
        {"id": "3", "context": "The stock market fell sharply.", "completion": "Investors sold bonds."},
    ]
    write_jsonl(tmp_path / "data/real/story/train.jsonl", rows)
    main(task="story", dataset=["real"], params=repo / "params.yaml")
    out = tmp_path / "data/embeddings/story/real.npy"
    first = out.read_bytes()
    vectors = np.load(out)
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]  # cats are closer to cats than to stocks
    # The rerun is served by the content-addressed cache: the model is not even loaded.
    monkeypatch.setattr(embeddings, "load_model", lambda name: pytest.fail("cache miss"))
    main(task="story", dataset=["real"], params=repo / "params.yaml")
    assert out.read_bytes() == first
    assert not list(out.parent.glob(".*.tmp"))


def test_changed_set_is_embedded_again(tmp_path, monkeypatch, repo):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "data/real/story/train.jsonl"
    write_jsonl(path, [{"id": "1", "context": "A dog ran.", "completion": "It barked."}])
    main(task="story", dataset=["real"], params=repo / "params.yaml")
    write_jsonl(
        path,
        [
            {"id": "1", "context": "A dog ran.", "completion": "It barked."},
            {"id": "2", "context": "Rain fell.", "completion": "Streets flooded."},
        ],
    )
    main(task="story", dataset=["real"], params=repo / "params.yaml")
    assert np.load(tmp_path / "data/embeddings/story/real.npy").shape == (2, 384)


def test_embed_stage_rejects_bad_names_and_missing_files(tmp_path, monkeypatch, repo):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UserError, match="not a dataset name"):
        main(task="story", dataset=["bogus"], params=repo / "params.yaml")
    with pytest.raises(UserError, match="dataset file not found"):
        main(task="qa", dataset=["real_test"], params=repo / "params.yaml")
    with pytest.raises(UserError, match="--task"):
        main(task="poem", dataset=["real"], params=repo / "params.yaml")
    assert not (tmp_path / embeddings.EMBEDDINGS_DIR).exists()


def test_story_embed_stage_embeds_the_topic_pool_with_the_same_model(tmp_path, monkeypatch, repo):
    from gendiv.config import load_params
    from gendiv.io import write_json
    from gendiv.measure.sets import measured_sets

    monkeypatch.chdir(tmp_path)
    story = {"context": "The kitten chased a ball of yarn.", "completion": "Then the cat purred and slept."}
    for name, path in measured_sets(load_params(repo / "params.yaml"), "story"):
        write_jsonl(path, [{"id": name, **story}])
    with pytest.raises(UserError, match="topics.json: topic pool not found"):
        main(task="story", dataset=None, params=repo / "params.yaml")
    assert not (tmp_path / embeddings.EMBEDDINGS_DIR).exists()

    write_json(embeddings.TOPICS_FILE, {"topics": ["The Stock Market", "Cats", "Sailing Ships"]})
    main(task="story", dataset=None, params=repo / "params.yaml")
    topics = np.load(embeddings.TOPICS_EMBEDDINGS)
    story_vector = np.load(embeddings.embedding_path("story", "d0"))[0]
    assert topics.shape == (3, 384)
    assert np.argmax(topics @ story_vector) == 1  # the cat story is nearest "Cats"


def test_cache_is_keyed_by_the_models_files_not_its_name(tmp_path, monkeypatch):
    """A model folder whose weights change under the same name must not get the old vectors."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GENDIV_CACHE_DIR", raising=False)
    monkeypatch.delenv("DVC_ROOT", raising=False)
    model, source = tmp_path / "my-model", tmp_path / "set.jsonl"
    model.mkdir()
    (model / "weights.bin").write_bytes(b"version 1")
    source.write_text("x\n")
    calls = []

    def embed(texts):
        calls.append(texts)
        return np.full((1, 2), len(calls), np.float32)

    def run():
        return embeddings.cached_embeddings(embeddings.model_identity(str(model)), source, lambda s: ["x"], embed)

    assert run()[0, 0] == 1 and run()[0, 0] == 1 and len(calls) == 1  # same files: served from the cache
    (model / "weights.bin").write_bytes(b"version 2")
    assert run()[0, 0] == 2 and len(calls) == 2
    assert len(list((tmp_path / ".gendiv_cache/embeddings").glob("*.npy"))) == 2
