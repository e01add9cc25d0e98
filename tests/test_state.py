"""The state folder (LLM call cache, embeddings, checkpoints): one absolute place per repository,
shared with DVC's temporary copies for queued experiments."""

import json
import time
from pathlib import Path

import pytest

import gendiv
from dvc_helpers import commit_all, dvc, git
from gen_helpers import make_workspace
from gendiv.errors import UserError
from gendiv.state import state_dir
from openai_server import FakeOpenAI


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    monkeypatch.delenv("GENDIV_CACHE_DIR", raising=False)
    monkeypatch.delenv("DVC_ROOT", raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_default_is_absolute_and_follows_dvc_root(clean_env, monkeypatch):
    assert state_dir() == clean_env.resolve() / ".gendiv_cache"
    original = clean_env / "original"
    original.mkdir()
    monkeypatch.setenv("DVC_ROOT", str(original))  # what DVC sets for a queued experiment's stages
    assert state_dir() == original.resolve() / ".gendiv_cache"


def test_configured_folder_must_be_absolute_and_outside_dvc_outputs(clean_env, monkeypatch):
    monkeypatch.setenv("GENDIV_CACHE_DIR", str(clean_env / "shared"))
    assert state_dir() == (clean_env / "shared").resolve()
    for bad, why in (
        ("rel/cache", "absolute"),
        (str(clean_env / "data/cache"), "inside data/"),
        (str(clean_env / "models"), "inside models/"),
    ):
        monkeypatch.setenv("GENDIV_CACHE_DIR", bad)
        with pytest.raises(UserError, match=f"GENDIV_CACHE_DIR=.*{why}"):
            state_dir()


_DVC_YAML = """\
stages:
  topics:
    cmd: echo run >> {counter} && gendiv generate-topics
    params: [seed, generator, story_gen]
    outs: [data/generated/story/topics.json]
"""


def test_queued_experiment_reuses_the_workspace_cache(tmp_path, raw_params, monkeypatch):
    """`dvc exp run --queue` runs in a temporary copy without git-ignored files; its generation
    stage must still find every answer the workspace already paid for: zero calls."""
    for var in ("GENDIV_CACHE_DIR", "DVC_ROOT"):
        monkeypatch.delenv(var, raising=False)
    counter = tmp_path / "topics.count"
    ws = tmp_path / "ws"
    ws.mkdir()
    env = {"OPENAI_API_KEY": "sk-test", "PYTHONPATH": str(Path(gendiv.__file__).parents[1])}
    with FakeOpenAI() as srv:
        make_workspace(ws, raw_params, srv.base_url)
        git(ws, "init", "-q", "-b", "main")
        dvc(ws, "init", "-q")
        dvc(ws, "config", "core.analytics", "false")
        (ws / ".gitignore").write_text(".gendiv_cache/\n")
        (ws / "dvc.yaml").write_text(_DVC_YAML.format(counter=counter))
        commit_all(ws, "project")
        dvc(ws, "repro", extra_env=env)
        paid = sum(srv.arrivals.values())
        assert paid > 0 and (ws / ".gendiv_cache/llm/calls.sqlite").is_file()
        commit_all(ws, "workspace results")

        dvc(ws, "exp", "run", "--queue", "-f", "-n", "again", extra_env=env)
        dvc(ws, "queue", "start", "-j", "1", extra_env=env)
        deadline = time.monotonic() + 300
        while any(word in (status := dvc(ws, "queue", "status").stdout) for word in ("Queued", "Running")):
            assert time.monotonic() < deadline, status
            time.sleep(2)
        assert "Success" in status, status + dvc(ws, "queue", "logs", "again", check=False).stdout
        assert len(counter.read_text().splitlines()) == 2  # the stage really ran again, in the copy
        assert sum(srv.arrivals.values()) == paid  # ...and every answer came from the cache
    produced = (ws / "data/generated/story/topics.json").read_bytes()
    dvc(ws, "exp", "apply", "again")
    assert (ws / "data/generated/story/topics.json").read_bytes() == produced
    assert json.loads(produced)["size"] == raw_params["story_gen"]["topic_pool_size"]
