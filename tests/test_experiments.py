"""Experiments across machines, and the paper-scale profile one switch away.

Across machines: two clones push their runs, a third pulls and compares them. A bare git
repository stands in for the shared git host and a local directory for the shared DVC
remote (S3 behaves the same; tests/test_remote.py covers its transport).
"""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from dvc_helpers import TINY_OUTPUTS, clone, digests, dvc, experiments, git, make_tiny_project, run_counts
from gendiv.config import load_params, validate
from gendiv.profiles import apply_profile


def test_experiments_from_two_clones_are_compared_side_by_side_in_a_third(tmp_path):
    counters, storage, hub = tmp_path / "counters", tmp_path / "dvc-storage", tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(hub))
    # The DVC remote is committed before any experiment: `dvc exp push` reads the
    # experiment's own committed .dvc/config.
    seed = make_tiny_project(tmp_path / "seed", counters, remotes={"shared": str(storage)}, default_remote="shared")
    git(seed, "remote", "add", "origin", str(hub))
    git(seed, "push", "-q", "origin", "main")

    runs = {"alice": ("x-2", ["x=2"]), "bob": ("x-3-lr", ["x=3", "lr=0.01"])}
    produced = {}
    for machine, (name, sets) in runs.items():
        work = clone(hub, tmp_path / machine)
        dvc(work, "exp", "run", "-n", name, *[arg for s in sets for arg in ("-S", s)])
        produced[name] = (digests(work, TINY_OUTPUTS), json.loads((work / "metrics.json").read_text()))
        dvc(work, "exp", "push", "origin", name)
    assert run_counts(counters) == {"generate": 2, "train": 2}
    assert produced["x-2"][0] != produced["x-3-lr"][0]

    carol = clone(hub, tmp_path / "carol")
    assert experiments(json.loads(dvc(carol, "exp", "show", "--json").stdout)) == {}
    for name in produced:
        dvc(carol, "exp", "pull", "origin", name)
    table = experiments(json.loads(dvc(carol, "exp", "show", "--json").stdout))
    assert set(table) == {"x-2", "x-3-lr"}
    assert (table["x-2"]["params"]["x"], table["x-2"]["params"]["lr"]) == (2, 0.001)
    assert (table["x-3-lr"]["params"]["x"], table["x-3-lr"]["params"]["lr"]) == (3, 0.01)
    for name, (_, metrics) in produced.items():
        assert table[name]["metrics"] == metrics
    rows = dvc(carol, "exp", "show", "--csv").stdout.splitlines()
    assert sum(row.startswith(("x-2,", "x-3-lr,")) for row in rows) == 2

    # `exp pull` brought the outputs too: with the shared remote gone, each experiment still
    # checks out byte-identical to the machine that ran it, and nothing is recomputed.
    shutil.rmtree(storage)
    for name, (files, _) in produced.items():
        dvc(carol, "exp", "apply", name)
        assert digests(carol, TINY_OUTPUTS) == files
    assert run_counts(counters) == {"generate": 2, "train": 2}


PAPER = Path(__file__).resolve().parents[1] / "profiles" / "paper.yaml"


def _keys(node: dict, prefix: str = "") -> set[str]:
    out = set()
    for key, value in node.items():
        out.add(prefix + key)
        if isinstance(value, dict):
            out |= _keys(value, f"{prefix}{key}.")
    return out


def _value(node: dict, dotted: str):
    for part in dotted.split("."):
        node = node[part]
    return node


def test_paper_profile_validates_at_the_papers_settings(repo):
    p = validate(yaml.safe_load(PAPER.read_text()), root=repo, source="profiles/paper.yaml")
    assert (p.data.source, p.models.base.source, p.models.base.hub_id) == ("hub", "hub", "openai-community/gpt2")
    assert (p.n_real_train("story"), p.data.story.n_test, p.data.qa.qa_per_doc) == (30000, 10000, 30)
    assert (p.generator.backend, p.generator.model, p.generator.temperature) == ("openai", "gpt-4o", 0.7)
    assert p.story_gen.topic_pool_size == 10000
    assert p.story_gen.topic_subset_sizes == [20, 50, 100, 500, 1000, 5000, 10000]
    assert (p.qa_gen.pairs_per_context, p.qa_gen.paraphrases_per_question) == (30, 5)
    assert p.qa_gen.replaced_questions == [6, 5, 4, 3, 2, 1, 0]
    assert (p.train.epochs, p.train.learning_rate, p.train.weight_decay, p.train.lora_r, p.train.lora_alpha) == (
        3,
        1e-4,
        1e-4,
        8,
        16,
    )
    assert {task: (p.task_train(task).learning_rate, p.task_train(task).epochs) for task in ("story", "qa")} == {
        "story": (1e-4, 3),
        "qa": (1e-4, 3),
    }  # the default's per-task rates do not leak into the paper scale
    assert p.measure.embedding_model == "sentence-transformers/all-mpnet-base-v2"
    assert p.mixing.fixed_ratios == [0.0, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert (p.n_generated("story"), p.n_generated("qa")) == (30000, 30000)


def test_paper_profile_names_every_key_of_params_yaml(repo):
    """So `cp profiles/paper.yaml params.yaml` and apply-profile give the same params."""
    default_raw = yaml.safe_load((repo / "params.yaml").read_text())
    default = _keys(default_raw)
    # a section that params.yaml leaves null (off, e.g. adversarial.judge) may be filled in by the profile
    off = {k for k in default if _value(default_raw, k) is None}
    paper = {k for k in _keys(yaml.safe_load(PAPER.read_text())) if not any(k.startswith(o + ".") for o in off)}
    assert paper == default, (
        f"only in params.yaml: {sorted(default - paper)}; only in the profile: {sorted(paper - default)}"
    )


def test_switching_with_apply_profile_gives_exactly_the_profile(tmp_path, repo):
    params = tmp_path / "params.yaml"
    shutil.copy(repo / "params.yaml", params)
    apply_profile(PAPER, params)
    switched = load_params(params).model_dump()
    assert switched == validate(yaml.safe_load(PAPER.read_text()), root=repo).model_dump()
    assert switched != load_params(repo / "params.yaml").model_dump()


def test_documented_accelerate_entry_point_resolves(repo):
    """docs/paper-scale.md launches training with `accelerate launch ... -m gendiv.train.finetune`."""
    assert "accelerate launch" in (repo / "docs" / "paper-scale.md").read_text()
    res = subprocess.run(
        [
            str(Path(sys.executable).parent / "accelerate"),
            "launch",
            "--cpu",
            "--num_processes",
            "1",
            "--num_machines",
            "1",
            "--mixed_precision",
            "no",
            "--dynamo_backend",
            "no",
            "-m",
            "gendiv.train.finetune",
            "--help",
        ],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 0, res.stdout + res.stderr
    assert "--dataset" in res.stdout and "--seed" in res.stdout
