"""Stage `train`: one LoRA fine-tuning run (TRL SFTTrainer + peft), then its real test loss.

A run is (task, dataset name, seed). Loss is on completion tokens only (TRL masks the
prompt of prompt/completion data). Outputs:
  models/adapters/{task}/{dataset}/s{seed}/      peft adapter (PeftModel.from_pretrained) + model card
  metrics/runs/{task}/{dataset}/s{seed}.json     test and train metrics of the run
  metrics/examples/{task}/{dataset}/s{seed}.json each test example's completion NLL and tokens
  metrics/runs/{task}/{dataset}/s{seed}_live/    DVCLive training curves (dvc plots)
Under `accelerate launch` (one process per device) `train.batch_size` stays the global batch:
each process takes an equal share, so a run's numbers do not depend on the device count, and
only the main process writes.
The adapter is written to a staging folder and renamed into place last, so a killed run
never leaves a folder that looks finished. Trainer checkpoints (one per epoch) live in the
shared state folder (gendiv.state: `train/...`); a rerun with the same data, base weights and
settings resumes from the last checkpoint that was saved completely (train/checkpoints.py).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
from pathlib import Path

import typer
from filelock import FileLock

from gendiv.config import Params, Task, load_params, require_task
from gendiv.errors import UserError
from gendiv.io import atomic_open, read_jsonl, write_json
from gendiv.layout import dataset_path, is_core, real_test_path, run_seeds, training_sets
from gendiv.state import state_dir
from gendiv.train.checkpoints import _fingerprint, _mark_complete_callback, _resume_or_reset
from gendiv.train.evaluate import fit_examples, score_rows
from gendiv.train.model_card import write_model_card
from gendiv.train.runs import adapter_path, examples_path, live_path, metrics_path


def run_paths(task: str, name: str, seed: int) -> dict[str, Path]:
    return {
        "adapter": adapter_path(task, name, seed),
        "metrics": metrics_path(task, name, seed),
        "examples": examples_path(task, name, seed),
        "live": live_path(task, name, seed),
        "checkpoints": state_dir() / "train" / task / name / f"s{seed}",
    }


def _launch(batch_size: int) -> tuple[int, bool]:
    """(per-process batch, is this the main process) of this launch; one process unless launched."""
    import torch
    from accelerate import PartialState

    state = PartialState(cpu=not torch.cuda.is_available())
    if batch_size % state.num_processes:
        raise UserError(
            f"train.batch_size = {batch_size}: is the global batch, so it must be a multiple of "
            f"the {state.num_processes} processes of this launch"
        )
    return batch_size // state.num_processes, state.is_main_process


def _live_callback(live_dir: Path):
    """A TrainerCallback that writes the logged training curves with DVCLive."""
    from dvclive import Live
    from transformers import TrainerCallback

    class LiveCurves(TrainerCallback):
        def __init__(self) -> None:
            self.live = Live(dir=str(live_dir), save_dvc_exp=False, dvcyaml=None, report=None)

        def _write(self, step: int, logs: dict) -> None:
            if "loss" not in logs:
                return
            self.live.step = step
            for key in ("loss", "learning_rate", "grad_norm"):
                if key in logs:
                    self.live.log_metric(f"train/{key}", float(logs[key]))
            self.live.next_step()

        def on_train_begin(self, args, state, control, **kwargs):
            for entry in state.log_history:  # replay curves of a resumed run
                self._write(entry.get("step", 0), entry)

        def on_log(self, args, state, control, logs=None, **kwargs):
            self._write(state.global_step, logs or {})

        def on_train_end(self, args, state, control, **kwargs):
            self.live.end()
            # DVCLive's last-step summary duplicates the run metrics; only the curves stay.
            (live_dir / "metrics.json").unlink(missing_ok=True)

    return LiveCurves()


def build_trainer(p: Params, task: str, rows: list[dict], seed: int, model, tokenizer, output_dir: Path, callbacks=()):
    """An SFTTrainer with a fresh LoRA adapter on `model` over the fitted prompt/completion rows."""
    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from trl import SFTConfig, SFTTrainer

    t = p.task_train(task)
    on_gpu = torch.cuda.is_available()
    pairs = fit_examples(tokenizer, task, rows, t.max_length)
    config = SFTConfig(
        output_dir=str(output_dir),
        num_train_epochs=t.epochs,
        max_steps=p.train_steps(task) or -1,  # a fixed step budget makes runs on sets of any size comparable
        per_device_train_batch_size=_launch(t.batch_size)[0],
        learning_rate=t.learning_rate,
        weight_decay=t.weight_decay,
        max_length=t.max_length,
        use_cpu=not on_gpu,
        bf16=on_gpu and torch.cuda.is_bf16_supported(),
        activation_checkpointing=on_gpu,
        logging_steps=1,
        save_strategy="epoch",  # older checkpoints are dropped by _mark_complete_callback
        report_to="none",
        seed=seed,
        data_seed=seed,
        dataloader_num_workers=0,
    )
    lora = LoraConfig(
        r=t.lora_r,
        lora_alpha=t.lora_alpha,
        lora_dropout=t.lora_dropout,
        target_modules=list(t.lora_target_modules),
        task_type="CAUSAL_LM",
    )
    trainer = SFTTrainer(
        model=model,
        args=config,
        train_dataset=Dataset.from_list(pairs),
        processing_class=tokenizer,
        peft_config=lora,
        callbacks=[_mark_complete_callback(), *callbacks],
    )
    if len(trainer.train_dataset) != len(rows):  # TRL drops fully masked rows silently
        raise UserError(f"TRL kept {len(trainer.train_dataset)} of {len(rows)} training examples")
    return trainer


def _canonical_adapter_config(folder: Path, peft_config: dict, base_model: str) -> None:
    """Sort the fields peft holds as sets (target_modules, ...): peft lists them in Python's
    per-process string-hash order, which would make the adapter's bytes differ per run. Name the
    hub model as the base, not the local folder peft loaded it from, so the adapter is portable."""
    path = folder / "adapter_config.json"
    config = json.loads(path.read_text(encoding="utf-8"))
    set_fields = {
        key for cfg in peft_config.values() for key, value in vars(cfg).items() if isinstance(value, (set, frozenset))
    }
    for key in set_fields:
        if isinstance(config.get(key), list):
            config[key] = sorted(config[key])
    config["base_model_name_or_path"] = base_model
    with atomic_open(path) as fh:
        fh.write(json.dumps(config, indent=2, sort_keys=True))  # peft's own layout


def train_run(p: Params, task: str, name: str, seed: int, callbacks=()) -> dict:
    """Train, save and evaluate one run; returns its metrics. `callbacks` go to the Trainer."""
    data_file = dataset_path(task, name)
    if not data_file.is_file():
        raise UserError(f"--dataset {name}: {data_file} not found (run its data stage first)")
    rows = read_jsonl(data_file)
    if not rows:
        raise UserError(f"--dataset {name}: {data_file} has no rows")
    if not real_test_path(task).is_file():
        raise UserError(f"{real_test_path(task)} not found (run prepare-real --task {task} first)")
    test_rows = read_jsonl(real_test_path(task))
    paths = run_paths(task, name, seed)
    _, main = _launch(p.train.batch_size)  # checks the batch before anything is written
    paths["checkpoints"].parent.mkdir(parents=True, exist_ok=True)
    # Queued experiments share the checkpoints folder: one process per run at a time. Only the
    # main process of a launch takes the lock (the others follow it and write nothing).
    with FileLock(f"{paths['checkpoints']}.lock") if main else contextlib.nullcontext():
        return _train_locked(p, task, name, seed, rows, test_rows, data_file, paths, callbacks, main)


def _train_locked(
    p: Params,
    task: str,
    name: str,
    seed: int,
    rows: list[dict],
    test_rows: list[dict],
    data_file: Path,
    paths: dict[str, Path],
    callbacks,
    main: bool,
) -> dict:
    import torch
    from accelerate.utils import broadcast_object_list
    from transformers import AutoModelForCausalLM, AutoTokenizer, set_seed

    checkpoint = None
    if main:  # under `accelerate launch` only the main process writes
        checkpoint = _resume_or_reset(paths["checkpoints"], _fingerprint(p, task, data_file, seed))
        shutil.rmtree(paths["live"], ignore_errors=True)
        callbacks = [_live_callback(paths["live"]), *callbacks]
    [checkpoint] = broadcast_object_list([checkpoint])  # the others resume as the main one decided, once it has
    resume = checkpoint is not None

    set_seed(seed)
    tokenizer = AutoTokenizer.from_pretrained(p.models.base.dir)
    model = AutoModelForCausalLM.from_pretrained(p.models.base.dir, dtype=torch.float32)
    trainer = build_trainer(p, task, rows, seed, model, tokenizer, paths["checkpoints"], callbacks=callbacks)
    seq_tokens = sum(len(ids) for ids in trainer.train_dataset["input_ids"])
    start = time.perf_counter()
    result = trainer.train(resume_from_checkpoint=str(checkpoint) if resume else None)
    seconds = time.perf_counter() - start
    if not main:
        return {}  # under `accelerate launch` only the main process saves, evaluates and writes

    staging = paths["adapter"].with_name(f".{paths['adapter'].name}.partial")
    shutil.rmtree(staging, ignore_errors=True)
    trainer.model.save_pretrained(str(staging))
    _canonical_adapter_config(staging, trainer.model.peft_config, p.models.base.hub_id)

    # merged: the weights verify and evaluate score
    metrics, per_example = score_rows(
        trainer.model.merge_and_unload(), tokenizer, task, test_rows, p.train.max_length, p.train.eval_batch_size
    )
    t = p.task_train(task)
    epochs = trainer.state.num_train_epochs if t.max_steps else t.epochs
    train_tokens = round(
        seq_tokens * trainer.state.global_step * t.batch_size / len(rows) if t.max_steps else seq_tokens * t.epochs
    )
    losses = [e["loss"] for e in trainer.state.log_history if "loss" in e]
    metrics.update(
        {
            "task": task,
            "dataset": name,
            "seed": seed,
            "n_train": len(rows),
            "epochs": round(float(epochs), 4),
            "steps": trainer.state.global_step,
            "examples_seen": trainer.state.global_step * t.batch_size,
            "learning_rate": t.learning_rate,
            "processes": trainer.args.world_size,
            "train_loss": round(float(result.training_loss), 6),
            "train_loss_last_step": round(float(losses[-1]), 6) if losses else None,
            "train_tokens": train_tokens,
            "train_seconds": round(seconds, 2),
            "tokens_per_second": round(train_tokens / seconds, 1) if not resume else None,
            "resumed": resume,
        }
    )
    write_model_card(staging, p, task, name, paths["adapter"], metrics)
    shutil.rmtree(paths["adapter"], ignore_errors=True)
    os.replace(staging, paths["adapter"])
    write_json(paths["examples"], per_example)
    write_json(paths["metrics"], metrics)
    shutil.rmtree(paths["checkpoints"], ignore_errors=True)
    return metrics


def main(
    task: Task = typer.Option(..., help="the task"),
    dataset: str = typer.Option(..., help="dataset name: real, d<level>, fixed_r<rho>, expand_real, ..."),
    seed: int = typer.Option(
        ..., help="training seed (train.seeds for real and Gen-D sets, else train.secondary_seeds)"
    ),
    params: Path = Path("params.yaml"),
) -> None:
    """Fine-tune a LoRA adapter on one training set and score it on the real test set."""
    p = load_params(params)
    require_task(task)
    allowed = training_sets(p, task)
    if dataset not in allowed:
        raise UserError(
            f"--dataset {dataset}: no such {task} training set in {params} (its levels, mixing and "
            f"source_diversity sections build: {', '.join(allowed)})"
        )
    seeds = run_seeds(p, dataset)
    if seed not in seeds:
        key = "train.seeds" if is_core(dataset) else "train.secondary_seeds"
        raise UserError(f"--seed {seed}: not in {key} = {seeds} (the seeds of dataset {dataset})")
    m = train_run(p, task, dataset, seed)
    if not m:
        return  # a non-main process of a multi-GPU launch
    print(
        f"{task}/{dataset}/s{seed}: test loss {m['test_loss']:.4f}, train loss {m['train_loss']:.4f}, "
        f"{m['train_tokens']} train tokens in {m['train_seconds']} s"
    )


if __name__ == "__main__":
    from gendiv.cli import run_command

    run_command(main)
