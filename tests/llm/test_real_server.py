"""The openai backend against a real OpenAI-compatible server: `transformers serve` on 127.0.0.1.

tests/openai_server.py is a hand-written fake; here the pinned transformers' own server (its
`serving` extra: fastapi + uvicorn) serves a real Llama checkpoint, so the backend meets a real
server's request validation, usage counts and finish reasons. The stage is `generate-topics`.

The model is built in the test (models/base is a DVC output, absent from a fresh clone): a
one-layer Llama with the base model's tokenizer whose blocks add nothing, so each next token
depends only on the current one, and whose output head writes a small automaton. After the
chat template's last token (a newline) it samples "<Word> <word>" topic lines:

    A b "\\n\\n" C d "\\n\\n\\n" E f ("\\n\\n\\n" E f)* <|im_end|>

Every answer parses as topics, the end-of-answer token can come at the 9th token at the
earliest (so `max_new_tokens` 8, the smallest the params allow, always ends by `length`), an
answer of k lines is exactly 3k completion tokens, and a request's seed fixes its answer.
"""

from __future__ import annotations

import copy
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from itertools import product
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from gen_helpers import REPO, make_workspace, set_params
from gendiv.errors import UserError
from gendiv.generate.topics import HINTS, TEMPLATE
from gendiv.generate.topics import main as topics_main
from gendiv.io import read_json
from tiny_model import base_tokenizer

# Word sets of the automaton (each word one token of the SmolLM2 vocabulary).
LINES = [
    ("Summer Winter Spring Family", "trip party garden picnic"),
    ("School Market Forest Office", "friends dinner secret storm"),
    ("River Music Travel Ocean", "concert journey surprise festival"),
]
SEPARATORS = ("\n\n", "\n\n\n")
TOPICS = {f"{a} {b.capitalize()}" for caps, lows in LINES for a, b in product(caps.split(), lows.split())}
POOL = 24
START_TIMEOUT_S = 180


def make_topic_llama(dest: Path) -> Path:
    """Save the automaton above as a LlamaForCausalLM checkpoint (with tokenizer) in dest."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    tok = base_tokenizer()
    vocab = tok.get_vocab()

    def ids(words: str, prefix: str = "") -> list[int]:
        return [vocab[prefix + w] for w in words.split()]  # KeyError: the tokenizer changed

    newline, eos = vocab["\u010a"], tok.eos_token_id  # byte-level "\n"
    seps = [vocab["\u010a" * len(sep)] for sep in SEPARATORS]
    (a, b), (c, d), (e, f) = [(ids(caps), ids(lows, "\u0120")) for caps, lows in LINES]
    # state s: (the tokens that put the model in it, the tokens that may follow, equally likely)
    states = [
        ([newline], a),
        (a, b),
        (b, [seps[0]]),
        ([seps[0]], c),
        (c, d),
        (d, [seps[1]]),
        ([seps[1]], e),
        (e, f),
        (f, [seps[1], eos]),
    ]
    hidden = 16
    config = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=hidden,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=2048,
        tie_word_embeddings=False,
        bos_token_id=tok.bos_token_id,
        eos_token_id=eos,
        pad_token_id=tok.pad_token_id,
    )
    model = LlamaForCausalLM(config)
    with torch.no_grad():
        for layer in model.model.layers:  # blocks add nothing to the residual stream
            layer.self_attn.o_proj.weight.zero_()
            layer.mlp.down_proj.weight.zero_()
        model.model.embed_tokens.weight.zero_()
        model.lm_head.weight.zero_()
        # state s is hidden unit s; the final RMSNorm scales a one-hot input to sqrt(hidden), so each
        # successor gets logit 30: at temperature 0.7 all other tokens together get < 1e-13
        for s, (tokens, successors) in enumerate(states):
            model.model.embed_tokens.weight[tokens, s] = 1.0
            model.lm_head.weight[successors, s] = 30.0 / hidden**0.5
    model.generation_config.do_sample = True  # the server samples only if the checkpoint says so
    model.save_pretrained(dest)
    tok.save_pretrained(dest)
    return dest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as res:
            return res.status == 200
    except OSError:
        return False


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`transformers serve` with the automaton preloaded, on a free local port; always stopped."""
    root = tmp_path_factory.mktemp("real-server")
    model = make_topic_llama(root / "model")
    port, log = free_port(), root / "serve.log"
    # One torch thread: two threads on a busy 2-core machine made each token ~20x slower.
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "OMP_NUM_THREADS": "1"}
    cmd = [
        sys.executable,
        "-m",
        "transformers.cli.transformers",
        "serve",
        str(model),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--device",
        "cpu",
        "--log-level",
        "warning",
    ]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, start_new_session=True
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not _healthy(f"http://127.0.0.1:{port}/health"):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(
                    f"transformers serve did not come up (exit {proc.poll()}):\n"
                    + log.read_text(errors="replace")[-3000:]
                )
            time.sleep(0.2)
        yield SimpleNamespace(base_url=f"http://127.0.0.1:{port}/v1", model=str(model), tokenizer=base_tokenizer())
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def workspace(tmp: Path, raw: dict, server, **gen) -> Path:
    tmp.mkdir(parents=True, exist_ok=True)
    ws = make_workspace(tmp, copy.deepcopy(raw), server.base_url, **{"model": server.model, "timeout_s": 60, **gen})
    set_params(ws, "story_gen", topic_pool_size=POOL, topic_subset_sizes=[1, 2, 4, 8, 12, 16, POOL])
    return ws


def run_stage(ws: Path) -> dict:
    topics_main(params=ws / "params.yaml", cache_dir=ws / "cache", out_dir=ws / "out")
    return read_json(ws / "out/topics.report.json")


def cached(ws: Path) -> list[dict]:
    """Every completion in the workspace's call cache, read straight from its SQLite file."""
    path = ws / "cache/calls.sqlite"
    if not path.is_file():
        return []
    db = sqlite3.connect(path, timeout=30)
    try:
        return [json.loads(v) for (v,) in db.execute("SELECT value FROM calls")]
    except sqlite3.OperationalError:  # a starting run has not created the table yet
        return []
    finally:
        db.close()


def prompt_tokens(server, n_requests: int) -> int:
    """What the server should count as prompt tokens for the stage's first n requests."""
    return sum(
        len(
            server.tokenizer.apply_chat_template(
                TEMPLATE.messages(hint=HINTS[i % len(HINTS)]), add_generation_prompt=True, return_dict=True
            )["input_ids"]
        )
        for i in range(n_requests)
    )


@pytest.fixture
def api_key(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")


def test_stage_against_transformers_serve(server, tmp_path, raw_params, monkeypatch, api_key):
    monkeypatch.chdir(tmp_path)
    ws = workspace(tmp_path, raw_params, server, concurrency=4)
    report = run_stage(ws)
    pool = read_json(ws / "out/topics.json")
    assert pool["size"] == POOL and set(pool["topics"]) <= TOPICS  # real answers, parsed
    answers = cached(ws)
    assert report["calls"] == report["requests"] == len(answers) and report["rejects_total"] == 0
    assert {a["finish_reason"] for a in answers} == {"stop"}
    # usage as the server counted it: the chat-templated prompt, and 3 tokens per answer line
    assert report["tokens_in"] == prompt_tokens(server, report["requests"])
    assert all(a["tokens_out"] == 3 * (len(a["text"].split()) // 2) for a in answers)
    assert report["tokens_out"] == sum(a["tokens_out"] for a in answers) > 0

    before = (ws / "out/topics.json").read_bytes()
    again = run_stage(ws)
    assert again["calls"] == 0 and again["cache_hits"] == report["requests"] and again["tokens_in"] == 0
    assert (ws / "out/topics.json").read_bytes() == before


@pytest.fixture(scope="module")
def truncated(server, tmp_path_factory):
    """The stage run once with max_new_tokens 8: its workspace, UserError (or None) and report."""
    root = tmp_path_factory.mktemp("truncated")
    raw = yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8"))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("OPENAI_API_KEY", "sk-test")
        mp.chdir(root)
        ws = workspace(root, raw, server, concurrency=4, max_new_tokens=8)
        try:
            run_stage(ws)
            error = None
        except UserError as err:
            error = err
    return SimpleNamespace(ws=ws, error=error, report=read_json(ws / "out/topics.report.json"))


def test_a_small_max_new_tokens_ends_answers_by_length(truncated):
    answers = cached(truncated.ws)
    assert answers and {a["finish_reason"] for a in answers} == {"length"}
    assert {a["tokens_out"] for a in answers} == {8} and truncated.report["tokens_out"] == 8 * len(answers)


def test_answers_cut_by_length_keep_only_their_whole_lines(truncated):
    # A topic list cut by the token cap ends in a cut line; only the finish reason tells it is not the
    # generator's whole answer. The topic pool keeps the complete lines and drops the cut one.
    report = truncated.report
    assert report["truncated_answers"] == report["requests"] > 0
    answers = cached(truncated.ws)
    assert answers and {a["finish_reason"] for a in answers} == {"length"}
    cut_lines = {a["text"].rstrip().splitlines()[-1].strip().lower() for a in answers}
    pool = (
        [t.lower() for t in read_json(truncated.ws / "out/topics.json")["topics"]]
        if (truncated.ws / "out/topics.json").exists()
        else []
    )
    assert not cut_lines & set(pool)
    assert len(answers) == report["requests"]  # every answer paid for stays in the cache


def gendiv_topics(ws: Path, log: Path) -> subprocess.Popen:
    """`gendiv generate-topics` in its own process, as dvc would run it."""
    argv = [
        sys.executable,
        "-m",
        "gendiv.cli",
        "generate-topics",
        "--params",
        "params.yaml",
        "--cache-dir",
        "cache",
        "--out-dir",
        "out",
    ]
    with log.open("ab") as out:
        return subprocess.Popen(
            argv,
            cwd=ws,
            env={**os.environ, "OPENAI_API_KEY": "sk-test"},
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )


def settle(server) -> None:
    """Return once the server has finished what a killed client left in flight.

    It generates on one thread, in arrival order, and seeds torch per request: a request still
    generating while the next one is seeded would shift that one's sampling.
    """
    body = {"model": server.model, "messages": [{"role": "user", "content": "settle"}], "max_tokens": 8}
    req = urllib.request.Request(
        f"{server.base_url}/chat/completions", json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=60) as res:
        assert res.status == 200


def test_killed_run_resumes_with_exactly_the_missing_calls(server, tmp_path, raw_params, monkeypatch, api_key):
    # One request at a time, so that each answer is fixed by its request's seed.
    monkeypatch.chdir(tmp_path)
    fresh = workspace(tmp_path / "fresh", raw_params, server, concurrency=1)
    total = run_stage(fresh)["calls"]
    assert total >= 8  # a first round of 8 requests: room to kill between two of them

    ws, log = workspace(tmp_path / "killed", raw_params, server, concurrency=1), tmp_path / "gendiv.log"
    proc = gendiv_topics(ws, log)
    try:
        deadline = time.monotonic() + 120
        while not cached(ws):
            assert proc.poll() is None, log.read_text(errors="replace")
            assert time.monotonic() < deadline, "no answer was cached within 120 s"
            time.sleep(0.01)
    finally:
        proc.kill()  # SIGKILL: no handler runs, as when the machine dies
        proc.wait()
    done = len(cached(ws))
    assert 0 < done < total, "the kill did not land mid-run"
    assert not (ws / "out/topics.json").exists()

    settle(server)
    resume = gendiv_topics(ws, log)
    assert resume.wait(timeout=300) == 0, log.read_text(errors="replace")
    resumed = read_json(ws / "out/topics.report.json")
    assert resumed["calls"] == total - done and resumed["cache_hits"] == done
    assert (ws / "out/topics.json").read_bytes() == (fresh / "out/topics.json").read_bytes()
