"""Stage `output_diversity`: how broad are the fine-tuned models' own outputs?

Distribution collapse shows in what a model writes, not in its test loss. For the first
`source_diversity.prompts` real test stories, every model (the base model, the real-data
adapter, each single-source adapter and the multi-source adapter; every training seed)
samples K = `samples_per_prompt` continuations of the first four sentences, seeded, and
keeps the first sentence of each. Three measures, each in two scopes:

  intra: across the K samples of one prompt, averaged over prompts (with its standard error)
  inter: across prompts, on the first sample of each prompt

  distinct_n        unique / total n-grams of the outputs joined (whitespace tokens)
  self_bleu         mean sentence BLEU (sacrebleu) of each output against the others: higher = more alike
  embedding_spread  mean pairwise cosine distance of the outputs' sentence embeddings

The training sets' own diversity (Distinct-n and spread of the stories) is measured too,
so a reviewer can check the premise that the sources differ at all.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import typer
from scipy.spatial.distance import pdist
from tqdm import tqdm

from gendiv.config import Params, load_params
from gendiv.io import read_jsonl, write_json, write_jsonl
from gendiv.layout import OUTPUTS_DIR, SOURCE_DIVERSITY_METRICS, dataset_path, real_test_path, to_prompt_completion
from gendiv.llm.base import derived_seed
from gendiv.measure.distinct import distinct_corpus, whitespace_tokens
from gendiv.prepare.real import split_sentences
from gendiv.train.runs import trained_adapter

OUT_DIR = OUTPUTS_DIR / "story"
METRICS = SOURCE_DIVERSITY_METRICS


def model_names(p: Params) -> list[str]:
    """base, real, src_<each generator>, src_multi: the models whose outputs are compared."""
    return ["base", "real"] + [f"src_{g.name}" for g in p.source_diversity.generators] + ["src_multi"]


def outputs_file(name: str, seed: int) -> Path:
    """Where a model's sampled continuations are stored (the base model samples once: no seed in its name)."""
    return OUT_DIR / (f"{name}.jsonl" if name == "base" else f"{name}_s{seed}.jsonl")


def first_sentence(text: str) -> str:
    """The first sentence of a continuation (the story task's completion unit)."""
    line = text.strip().split("\n", 1)[0].strip()
    sentences = split_sentences(line)
    return sentences[0] if sentences else line


def self_bleu(texts: list[str]) -> float:
    """Mean sentence BLEU (0..1) of each text against all the others as references."""
    from sacrebleu.metrics import BLEU

    if len(texts) < 2:
        raise ValueError("self-BLEU needs at least two texts")
    bleu = BLEU(effective_order=True)
    return float(np.mean([bleu.sentence_score(t, texts[:i] + texts[i + 1 :]).score / 100 for i, t in enumerate(texts)]))


def embedding_spread(vectors: np.ndarray) -> float:
    """Mean pairwise cosine distance (0 = all the same direction)."""
    if len(vectors) < 2:
        raise ValueError("embedding spread needs at least two vectors")
    return float(np.mean(pdist(np.asarray(vectors, np.float64), metric="cosine")))


def diversity(texts: list[str], vectors: np.ndarray, max_n: int) -> dict[str, float]:
    """Distinct-1..max_n, self-BLEU and embedding spread of one set of outputs."""
    distinct = distinct_corpus([whitespace_tokens(t) for t in texts], max_n)
    return {
        **{f"distinct_{n}": v for n, v in distinct.items()},
        "self_bleu": self_bleu(texts),
        "embedding_spread": embedding_spread(vectors),
    }


def output_metrics(outputs: list[list[str]], vectors: np.ndarray, max_n: int) -> dict:
    """intra (per prompt, mean and standard error over prompts, plus the per-prompt values) and inter."""
    k = len(outputs[0])
    per_prompt = [diversity(texts, vectors[i * k : (i + 1) * k], max_n) for i, texts in enumerate(outputs)]
    intra = {}
    for key in per_prompt[0]:
        values = np.array([m[key] for m in per_prompt])
        intra[key] = float(values.mean())
        intra[f"{key}_se"] = float(values.std(ddof=1) / np.sqrt(len(values)))
    inter = diversity([texts[0] for texts in outputs], vectors[::k], max_n)
    return {"intra": intra, "inter": inter, "per_prompt": {key: [m[key] for m in per_prompt] for key in per_prompt[0]}}


def sample_outputs(p: Params, adapter: Path | None, prompts: list[str], seed: int) -> list[list[str]]:
    """K sampled first sentences per prompt from the base model with an optional adapter."""
    import torch

    from gendiv.train.evaluate import load_model

    sd = p.source_diversity
    model, tokenizer = load_model(p.models.base.dir, adapter)
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    repeated = [q for q in prompts for _ in range(sd.samples_per_prompt)]
    enc = tokenizer(repeated, return_tensors="pt", padding=True).to(model.device)
    torch.manual_seed(seed)
    with torch.inference_mode():
        out = model.generate(
            **enc,
            do_sample=True,
            temperature=sd.temperature,
            top_p=1.0,
            max_new_tokens=sd.max_new_tokens,
            pad_token_id=tokenizer.pad_token_id,
        )
    texts = tokenizer.batch_decode(out[:, enc["input_ids"].shape[1] :], skip_special_tokens=True)
    k = sd.samples_per_prompt
    return [[first_sentence(t) for t in texts[i * k : (i + 1) * k]] for i in range(len(prompts))]


def _mean_over_seeds(runs: list[dict]) -> dict:
    """Every number averaged over the training seeds (per-prompt values prompt by prompt)."""
    out = {
        scope: {key: float(np.mean([r[scope][key] for r in runs])) for key in runs[0][scope]}
        for scope in ("intra", "inter")
    }
    out["per_prompt"] = {
        key: np.mean([r["per_prompt"][key] for r in runs], axis=0).tolist() for key in runs[0]["per_prompt"]
    }
    return out


def run(p: Params) -> dict:
    from gendiv.measure.embeddings import embed_texts
    from gendiv.measure.embeddings import load_model as load_embedder

    sd = p.source_diversity
    test = read_jsonl(real_test_path("story"))[: sd.prompts]
    prompts = [to_prompt_completion("story", row)["prompt"] for row in test]
    embedder = load_embedder(p.measure.embedding_model)
    metrics: dict = {"models": {}, "data": {}, "n_prompts": len(prompts), "samples_per_prompt": sd.samples_per_prompt}
    jobs = [
        (name, seed) for name in model_names(p) for seed in (p.train.secondary_seeds if name != "base" else [p.seed])
    ]
    runs: dict[str, list[dict]] = {}
    for name, seed in tqdm(jobs, desc="sampling outputs", unit="model"):
        adapter = None if name == "base" else trained_adapter("story", name, seed)
        outputs = sample_outputs(p, adapter, prompts, derived_seed(p.seed, f"outputs/{name}/s{seed}"))
        write_jsonl(
            outputs_file(name, seed),
            [{"prompt_id": row["id"], "outputs": texts} for row, texts in zip(test, outputs)],
        )
        vectors = embed_texts(embedder, [t for texts in outputs for t in texts], p.measure.embedding_batch_size)
        runs.setdefault(name, []).append(output_metrics(outputs, vectors, sd.distinct_max_n))
    for name, model_runs in runs.items():
        metrics["models"][name] = _mean_over_seeds(model_runs)
    for name in model_names(p)[1:]:
        rows = read_jsonl(dataset_path("story", name))
        texts = [f"{r['context']} {r['completion']}" for r in rows]
        vectors = embed_texts(embedder, texts, p.measure.embedding_batch_size)
        distinct = distinct_corpus([whitespace_tokens(t) for t in texts], sd.distinct_max_n)
        metrics["data"][name] = {
            **{f"distinct_{n}": v for n, v in distinct.items()},
            "embedding_spread": embedding_spread(vectors),
            "n_samples": len(rows),
        }
    return metrics


def main(params: Path = typer.Option(Path("params.yaml"), help="params file")) -> None:
    """Sample outputs of every source-diversity model and measure their diversity."""
    p = load_params(params)
    metrics = run(p)
    per_prompt = {name: m.pop("per_prompt") for name, m in metrics["models"].items()}
    write_json(OUT_DIR / "per_prompt.json", per_prompt)
    write_json(METRICS, metrics)
    for name, m in metrics["models"].items():
        print(
            f"{name:>14}: intra distinct_2 {m['intra']['distinct_2']:.3f}, self-BLEU {m['intra']['self_bleu']:.3f}, "
            f"spread {m['intra']['embedding_spread']:.3f} | inter spread {m['inter']['embedding_spread']:.3f}"
        )


if __name__ == "__main__":
    from gendiv.cli import run_command

    run_command(main)
