"""`gendiv train` on several processes: the recipes of docs/paper-scale.md, run as written.

The multi-device command is launched with 2 processes; on a machine without CUDA
`accelerate launch --multi_gpu` starts them on the CPU with the gloo backend.
`accelerate launch --cpu --num_processes N` would start one process only (accelerate 1.15: it
spreads CPU processes only through an MPI hostfile), so the docs never use it.
"""

import json
import math
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import accelerate
import pytest
import torch
import yaml
from peft import PeftModel
from test_finetune import _stories, params_for, tiny_dir, workdir  # noqa: F401 (fixtures)
from transformers import AutoModelForCausalLM, AutoTokenizer

from gendiv.config import validate
from gendiv.errors import UserError
from gendiv.io import read_jsonl, write_jsonl
from gendiv.train.evaluate import load_model, score_rows
from gendiv.train.finetune import train_run

DOC = Path(__file__).resolve().parents[2] / "docs/paper-scale.md"
N_TRAIN, BATCH, EPOCHS = 12, 4, 2  # N_TRAIN a multiple of the global batch: see the tolerance below
TOLERANCE = 1e-4


def _doc_lines(pattern: str) -> list[str]:
    return [line.strip() for line in DOC.read_text().splitlines() if re.match(pattern, line.strip())]


def _workspace(root: Path, raw: dict, base: Path) -> Path:
    """A repository whose models/base is the tiny model (params.yaml may name no other folder)."""
    (root / "models").mkdir(parents=True)
    shutil.copytree(base, root / "models/base")
    shutil.copytree(DOC.parents[1] / "data/bundled", root / "data/bundled")
    write_jsonl(root / "data/real/story/test.jsonl", _stories(6, offset=100))
    write_jsonl(root / "data/generated/story/d6/train.jsonl", _stories(N_TRAIN))
    write_jsonl(root / "data/generated/story/d4/train.jsonl", _stories(N_TRAIN, offset=50))
    (root / "params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    return root


def _run(cmd: list[str], cwd: Path) -> None:
    env = dict(
        os.environ,
        HF_HUB_OFFLINE="1",
        HF_DATASETS_OFFLINE="1",
        TOKENIZERS_PARALLELISM="false",
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    )
    res = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, f"{cmd} failed ({res.returncode}):\n{res.stdout[-3000:]}\n{res.stderr[-6000:]}"


def _written(root: Path) -> list[str]:
    """Every file a run left, inputs aside."""
    return sorted(
        str(f.relative_to(root))
        for f in root.rglob("*")
        if f.is_file()
        and f.name != "params.yaml"
        and not f.is_relative_to(root / "data")
        and not f.is_relative_to(root / "models")
    )


def test_a_batch_the_processes_cannot_share_stops_before_writing(params_for, workdir, monkeypatch):
    monkeypatch.setattr(accelerate, "PartialState", lambda cpu: SimpleNamespace(num_processes=2, is_main_process=True))
    with pytest.raises(UserError, match=r"train.batch_size = 3: .* multiple of the 2 processes"):
        train_run(params_for(batch_size=3), "story", "real", 0)
    assert sorted(f.name for f in workdir.iterdir()) == ["data"]


def test_two_process_launch_makes_the_same_run_as_one_process(raw_params, repo, tiny_dir, tmp_path):
    # lora_dropout 0: dropout masks are drawn per process, so with dropout a 2-process run differs
    # from a 1-process one as two seeds do; without it both compute the same thing.
    raw_params["levels"] = [0, 2, 4, 6]  # the recipe in docs/paper-scale.md trains level 4
    raw_params["train"].update(
        {
            "max_length": 64,
            "batch_size": BATCH,
            "eval_batch_size": 8,
            "epochs": EPOCHS,
            "learning_rate": 5e-2,
            "lora_dropout": 0.0,
            "seeds": [0],
            "max_steps": None,
        }
    )
    validate(raw_params, root=repo)

    [launch] = _doc_lines(r"accelerate launch ")  # the multi-device recipe, 2 processes instead of 8
    assert "--num_processes 8" in launch and "--cpu" not in launch
    multi = _workspace(tmp_path / "multi", raw_params, tiny_dir)
    _run(launch.replace("--num_processes 8", "--num_processes 2").split(), multi)

    per_device = _doc_lines(r"CUDA_VISIBLE_DEVICES=\d+ gendiv train ")  # one run per device, both at once
    assert len(per_device) == 2 and all(line.endswith("&") for line in per_device)
    single = _workspace(tmp_path / "single", raw_params, tiny_dir)
    _run(["bash", "-c", "\n".join([*per_device, "wait"])], single)

    run = "story/d6/s0"
    m2 = json.loads((multi / f"metrics/runs/{run}.json").read_text())
    m1 = json.loads((single / f"metrics/runs/{run}.json").read_text())
    other = json.loads((single / "metrics/runs/story/d4/s0.json").read_text())
    assert other["dataset"] == "d4" and other["test_loss"] != m1["test_loss"]  # the concurrent runs kept apart

    # Only the main process writes: exactly the files of the 1-process run, one timing record.
    assert _written(multi) == [f for f in _written(single) if "d6" in f]
    assert [p.name for p in (multi / ".gendiv_cache/timings").iterdir()] == [
        "train_--task_story_--dataset_d6_--seed_0.json"
    ]
    assert len(list((single / ".gendiv_cache/timings").iterdir())) == 2

    # train.batch_size is the global batch: 2 processes x 2 each; steps = ceil(n / batch) x epochs.
    steps = math.ceil(N_TRAIN / BATCH) * EPOCHS
    assert (m2["steps"], m1["steps"]) == (steps, steps)
    assert (m2["processes"], m1["processes"]) == (2, 1)
    assert not (multi / f".gendiv_cache/train/{run}").exists()  # checkpoints go once the run is finished
    curve = (multi / f"metrics/runs/{run}_live/plots/metrics/train/loss.tsv").read_text().splitlines()
    assert [line.split("\t")[0] for line in curve] == ["step", *map(str, range(1, steps + 1))]

    # The adapter loads with peft and gives back the recorded test loss.
    tokenizer = AutoTokenizer.from_pretrained(tiny_dir)
    model = PeftModel.from_pretrained(
        AutoModelForCausalLM.from_pretrained(tiny_dir, dtype=torch.float32), str(multi / f"models/adapters/{run}")
    )
    test_rows = read_jsonl(multi / "data/real/story/test.jsonl")
    again, _ = score_rows(model, tokenizer, "story", test_rows, 64, 8)
    assert again["test_loss"] == pytest.approx(m2["test_loss"], abs=1e-5)

    # Same global batch, same examples per step (n is a multiple of the batch, so Accelerate pads no
    # last batch with repeats), the loss averaged over the tokens of all processes: the runs differ
    # only in the order of float sums. Measured: equal to the 6 decimals metrics keep. The tolerance
    # is far below what training moves (asserted) and below what other batches give (n = 10, whose
    # last batch Accelerate pads with repeats, measured 6e-4 apart).
    base, _ = score_rows(load_model(str(tiny_dir))[0], tokenizer, "story", test_rows, 64, 8)
    assert abs(base["test_loss"] - m1["test_loss"]) > 100 * TOLERANCE
    assert abs(m2["test_loss"] - m1["test_loss"]) <= TOLERANCE, (m2["test_loss"], m1["test_loss"])
