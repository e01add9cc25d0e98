"""LoRA runs: TRL scores completion tokens only; adapters load; killed runs resume cleanly."""

import json
import os
import shutil
import subprocess
import sys

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback

from gendiv.config import validate
from gendiv.io import read_jsonl, write_jsonl
from gendiv.train.checkpoints import COMPLETE
from gendiv.train.evaluate import encode, fit_examples, load_model, score_rows
from gendiv.train.finetune import build_trainer, run_paths, train_run
from tiny_model import make_tiny_llama

WORDS = "red blue green cat dog sun moon tree river stone bird fish".split()


def _stories(n, offset=0):
    rows = []
    for i in range(n):
        w = [WORDS[(i * 7 + j + offset) % len(WORDS)] for j in range(12)]
        rows.append(
            {
                "id": f"s{i + offset}",
                "context": f"The {w[0]} saw a {w[1]}. It was {w[2]} and {w[3]}.",
                "completion": f"Then the {w[4]} met the {w[5]}.",
            }
        )
    return rows


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    return make_tiny_llama(tmp_path_factory.mktemp("tiny"))


@pytest.fixture
def params_for(raw_params, repo, tiny_dir, no_task_overrides):
    def build(base=tiny_dir, **train):
        raw_params["train"].update(
            {
                "max_length": 64,
                "batch_size": 4,
                "eval_batch_size": 8,
                "epochs": 1,
                "max_steps": None,
                "learning_rate": 5e-3,
                "per_task": no_task_overrides,
                **train,
            }
        )
        p = validate(raw_params, root=repo)
        # params.yaml may only name models/base (dvc.yaml's path); the tiny model stands in for it unvalidated
        base = p.models.base.model_copy(update={"dir": str(base)})
        return p.model_copy(update={"models": p.models.model_copy(update={"base": base})})

    return build


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_jsonl("data/real/story/train.jsonl", _stories(12))
    write_jsonl("data/real/story/test.jsonl", _stories(6, offset=100))
    return tmp_path


def test_trl_masks_the_prompt(params_for, tiny_dir, tmp_path):
    p = params_for()
    tokenizer = AutoTokenizer.from_pretrained(tiny_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_dir, dtype=torch.float32)
    rows = _stories(8)
    trainer = build_trainer(p, "story", rows, 0, model, tokenizer, tmp_path / "out")
    pairs = fit_examples(tokenizer, "story", rows, p.train.max_length)
    for example, pair in zip(trainer.train_dataset, pairs):
        ids, start = encode(tokenizer, pair["prompt"], pair["completion"])
        assert example["input_ids"] == ids  # TRL tokenizes as evaluate.encode does
        assert example["labels"] == [-100] * start + ids[start:]  # prompt masked, completion + EOS scored

    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(4)])
    trainer.model.eval()
    with torch.no_grad():
        trl_loss = float(trainer.compute_loss(trainer.model, batch))
        logits = trainer.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    logp = torch.log_softmax(logits[:, :-1].float(), -1)
    target = batch["labels"][:, 1:]
    scored = target != -100
    completion_only = float(-logp.gather(-1, target.clamp(min=0).unsqueeze(-1)).squeeze(-1)[scored].mean())
    real = batch["attention_mask"][:, 1:].bool()
    all_tokens = float(-logp.gather(-1, batch["input_ids"][:, 1:].unsqueeze(-1)).squeeze(-1)[real].mean())
    assert abs(trl_loss - completion_only) < 1e-4
    assert abs(trl_loss - all_tokens) > 1e-3  # would pass only by accident if the prompt were scored


def test_run_writes_loadable_adapter_curves_and_metrics(params_for, workdir):
    p = params_for()
    staging = run_paths("story", "real", 0)["adapter"].with_name(".s0.partial")
    staging.mkdir(parents=True)
    (staging / "junk").write_text("left by a killed run")
    metrics = train_run(p, "story", "real", 0)
    paths = run_paths("story", "real", 0)
    assert (paths["adapter"] / "adapter_config.json").is_file()
    assert not staging.exists() and not (paths["adapter"] / "junk").exists()
    assert not paths["checkpoints"].exists()
    saved = json.loads(paths["metrics"].read_text())
    assert saved == metrics and saved["n_train"] == 12 and saved["steps"] == 3 and saved["test_tokens"] > 0
    per_example = json.loads(paths["examples"].read_text())  # what the report pairs runs on
    assert per_example["id"] == [r["id"] for r in _stories(6, offset=100)]
    assert sum(per_example["tokens"]) == saved["test_tokens"]
    assert sum(per_example["nll"]) / sum(per_example["tokens"]) == pytest.approx(saved["test_loss"], abs=1e-6)
    assert saved["train_tokens"] == sum(
        len(encode(AutoTokenizer.from_pretrained(p.models.base.dir), **x)[0])
        for x in fit_examples(AutoTokenizer.from_pretrained(p.models.base.dir), "story", _stories(12), 64)
    )
    curve = (paths["live"] / "plots/metrics/train/loss.tsv").read_text().splitlines()
    assert curve[0].split("\t")[:2] == ["step", "loss"] and len(curve) == 1 + 3
    assert sorted(f.name for f in paths["live"].rglob("*") if f.is_file()) == [
        "grad_norm.tsv",
        "learning_rate.tsv",
        "loss.tsv",
    ]

    model, tokenizer = load_model(p.models.base.dir, paths["adapter"])
    lora_b = [t for n, t in model.named_parameters() if "lora_B" in n]
    assert lora_b and any(float(t.abs().sum()) > 0 for t in lora_b)  # training moved the adapter
    again, _ = score_rows(model, tokenizer, "story", read_jsonl("data/real/story/test.jsonl"), 64, 8)
    assert abs(again["test_loss"] - saved["test_loss"]) < 1e-4
    base, _ = load_model(p.models.base.dir)
    base_loss, _ = score_rows(base, tokenizer, "story", read_jsonl("data/real/story/test.jsonl"), 64, 8)
    assert base_loss["test_loss"] != saved["test_loss"]


class _KillAfterFirstSave(TrainerCallback):
    def on_save(self, args, state, control, **kwargs):
        raise KeyboardInterrupt("simulated kill after the first checkpoint")


def test_killed_run_resumes_to_the_same_result(params_for, workdir):
    p = params_for(epochs=2)
    with pytest.raises(KeyboardInterrupt):
        train_run(p, "story", "real", 0, callbacks=[_KillAfterFirstSave()])
    paths = run_paths("story", "real", 0)
    assert not paths["adapter"].exists() and not paths["metrics"].exists()  # nothing looks finished
    # A second kill, in the middle of saving epoch 2's checkpoint: its weights are cut short
    # and its completion mark is missing. Trainer alone would resume from it and crash.
    partial = paths["checkpoints"] / "checkpoint-6"
    shutil.copytree(paths["checkpoints"] / "checkpoint-3", partial)
    (partial / COMPLETE).unlink()
    weights = partial / "adapter_model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    resumed = train_run(p, "story", "real", 0)
    assert resumed["resumed"] is True and resumed["steps"] == 6
    curve = (paths["live"] / "plots/metrics/train/loss.tsv").read_text().splitlines()
    assert len(curve) == 1 + 6  # curves of the first epoch were replayed
    for path in (paths["adapter"], paths["metrics"]):
        assert path.exists()
    paths["adapter"].rename(workdir / "first_adapter")
    fresh = train_run(p, "story", "real", 0)
    assert fresh["resumed"] is False
    assert abs(fresh["test_loss"] - resumed["test_loss"]) < 1e-4


_TRAIN_ONE = """
import json, sys
from pathlib import Path
from gendiv.config import validate
from gendiv.train.finetune import train_run
raw, repo, tiny = json.loads(Path("params.json").read_text()), sys.argv[1], sys.argv[2]
p = validate(raw, root=repo)
base = p.models.base.model_copy(update={"dir": tiny})   # the tiny model stands in for models/base
train_run(p.model_copy(update={"models": p.models.model_copy(update={"base": base})}), "story", "real", 0)
"""


def _set_order(modules, hash_seed):
    code = f"print(list(set({modules!r})))"
    return subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "PYTHONHASHSEED": hash_seed},
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def test_adapter_bytes_do_not_depend_on_the_string_hash_seed(params_for, raw_params, repo, tmp_path, tiny_dir):
    """peft lists target_modules from a set; two processes must still write identical adapters."""
    params_for()
    modules = raw_params["train"]["lora_target_modules"]
    seeds = ["0", next(s for s in map(str, range(1, 50)) if _set_order(modules, s) != _set_order(modules, "0"))]
    runs = []
    for hash_seed in seeds:  # both at once: the imports dominate this test's time
        work = tmp_path / f"hash{hash_seed}"
        write_jsonl(work / "data/real/story/train.jsonl", _stories(8))
        write_jsonl(work / "data/real/story/test.jsonl", _stories(2, offset=100))
        (work / "params.json").write_text(json.dumps(raw_params))
        env = {**os.environ, "PYTHONHASHSEED": hash_seed, "PYTHONPATH": os.pathsep.join(sys.path)}
        env.pop("DVC_ROOT", None)
        env.pop("GENDIV_CACHE_DIR", None)
        runs.append(
            (
                work,
                subprocess.Popen(
                    [sys.executable, "-c", _TRAIN_ONE, str(repo), str(tiny_dir)],
                    cwd=work,
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                    text=True,
                ),
            )
        )
    adapters = []
    for work, proc in runs:
        _, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err[-3000:]
        folder = work / run_paths("story", "real", 0)["adapter"]
        adapters.append(
            {f.relative_to(folder).as_posix(): f.read_bytes() for f in sorted(folder.rglob("*")) if f.is_file()}
        )
    assert "adapter_config.json" in adapters[0] and "adapter_model.safetensors" in adapters[0]
    assert adapters[0].keys() == adapters[1].keys()
    for name in adapters[0]:
        assert adapters[0][name] == adapters[1][name], f"{name} differs between PYTHONHASHSEED {seeds}"
