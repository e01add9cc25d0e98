"""Throwaway DVC projects, local remotes and an S3-compatible server for storage tests.

`make_tiny_project` builds a git + DVC project with two cheap stages (`generate`, `train`)
that stand in for the expensive ones: each run appends a line to a counter file OUTSIDE
the workspace, so a test can prove that a command ran no stage at all. The helpers are
generic (git/dvc runners, file digests, clones, `dvc status` check), so the same proofs can
be pointed at the real pipeline and its own counters.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

BIN = Path(sys.executable).parent
GIT_ID = ["-c", "user.email=tests@gendiv", "-c", "user.name=gendiv tests"]
# Dummy credentials for the local S3 server; real ones only ever come from the environment.
S3_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}

_STAGES = '''\
"""Two cheap stages that count their runs in COUNTERS (outside the workspace)."""
import hashlib, json, sys
from pathlib import Path

import yaml

COUNTERS = Path({counters!r})


def count(stage):
    COUNTERS.mkdir(parents=True, exist_ok=True)
    with open(COUNTERS / f"{{stage}}.count", "a") as fh:
        fh.write("run\\n")


def generate(p):
    rows = [json.dumps({{"id": i, "text": f"sample {{i}} of x={{p['x']}} seed={{p['seed']}}"}})
            for i in range(p["n"])]
    Path("data").mkdir(exist_ok=True)
    Path("data/gen.jsonl").write_text("\\n".join(rows) + "\\n")


def train(p):
    data = Path("data/gen.jsonl").read_bytes()
    out = Path("model")
    out.mkdir(exist_ok=True)
    block = hashlib.sha256(data + repr(p["lr"]).encode()).digest()
    (out / "weights.bin").write_bytes(block * 2048)  # 64 KiB of binary "weights"
    (out / "config.json").write_text(json.dumps({{"lr": p["lr"], "n": p["n"]}}))
    score = int.from_bytes(block[:2], "big") / 65535
    Path("metrics.json").write_text(json.dumps({{"score": round(score, 6), "x": p["x"]}}))


if __name__ == "__main__":
    stage = sys.argv[1]
    count(stage)
    {{"generate": generate, "train": train}}[stage](yaml.safe_load(Path("params.yaml").read_text()))
'''

_DVC_YAML = """\
stages:
  generate:
    cmd: python stages.py generate
    deps: [stages.py]
    params: [seed, x, n]
    outs: [data/gen.jsonl]
  train:
    cmd: python stages.py train
    deps: [stages.py, data/gen.jsonl]
    params: [lr]
    outs: [model]
    metrics:
      - metrics.json:
          cache: false
"""

TINY_OUTPUTS = ("data/gen.jsonl", "model")


def env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The test interpreter's bin dir first on PATH (python, dvc), offline, plus `extra`."""
    out = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", DVC_NO_ANALYTICS="1", GIT_TERMINAL_PROMPT="0")
    out["PATH"] = f"{BIN}{os.pathsep}{out.get('PATH', '')}"
    out.update(extra or {})
    return out


def _run(
    argv: list[str], cwd: Path, extra_env: dict[str, str] | None, check: bool, timeout: int
) -> subprocess.CompletedProcess:
    res = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, env=env(extra_env), timeout=timeout)
    if check and res.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} failed in {cwd} ({res.returncode}):\n{res.stdout}\n{res.stderr}")
    return res


def dvc(
    cwd: Path, *args: str, extra_env: dict[str, str] | None = None, check: bool = True, timeout: int = 600
) -> subprocess.CompletedProcess:
    return _run([str(BIN / "dvc"), *args], cwd, extra_env, check, timeout)


def git(cwd: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return _run(["git", *GIT_ID, *args], cwd, None, check, 120)


def commit_all(cwd: Path, message: str) -> None:
    git(cwd, "add", "-A")
    git(cwd, "commit", "-qm", message)


def make_tiny_project(
    root: Path,
    counters: Path,
    remotes: dict[str, str] | None = None,
    default_remote: str | None = None,
    params: dict | None = None,
) -> Path:
    """A committed git + DVC project at `root` whose stages count runs in `counters`.

    `remotes` maps name -> url (committed to .dvc/config, as `dvc exp push` needs).
    """
    root.mkdir(parents=True, exist_ok=True)
    git(root, "init", "-q", "-b", "main")
    dvc(root, "init", "-q")
    dvc(root, "config", "core.analytics", "false")
    for name, url in (remotes or {}).items():
        dvc(root, "remote", "add", name, url)
    if default_remote:
        dvc(root, "remote", "default", default_remote)
    (root / "stages.py").write_text(_STAGES.format(counters=str(counters)))
    (root / "dvc.yaml").write_text(_DVC_YAML)
    values = {"seed": 0, "x": 1, "n": 50, "lr": 0.001, **(params or {})}
    (root / "params.yaml").write_text("".join(f"{k}: {v}\n" for k, v in values.items()))
    commit_all(root, "tiny project")
    return root


def run_counts(counters: Path) -> dict[str, int]:
    """How many times each stage has run (stages that never ran are absent)."""
    if not counters.is_dir():
        return {}
    return {f.stem: len(f.read_text().splitlines()) for f in sorted(counters.glob("*.count"))}


def digests(root: Path, paths: tuple[str, ...] | list[str]) -> dict[str, str]:
    """sha256 of every file under each of `paths` (files or directories), keyed by relpath."""
    out: dict[str, str] = {}
    for rel in paths:
        top = root / rel
        files = [top] if top.is_file() else sorted(p for p in top.rglob("*") if p.is_file())
        for f in files:
            out[f.relative_to(root).as_posix()] = hashlib.sha256(f.read_bytes()).hexdigest()
    return out


def clone(source: Path | str, dest: Path) -> Path:
    _run(["git", "clone", "-q", str(source), str(dest)], dest.parent, None, True, 120)
    return dest


def assert_status_clean(cwd: Path, extra_env: dict[str, str] | None = None) -> None:
    """`dvc status` reports nothing: every stage current, every output present."""
    res = dvc(cwd, "status", "--json", extra_env=extra_env)
    assert json.loads(res.stdout or "{}") == {}, f"dvc status is not clean:\n{res.stdout}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def s3_server(bucket: str) -> Iterator[str]:
    """An S3-compatible server (moto) on 127.0.0.1 with `bucket` created; yields its URL."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    try:
        s3_client(endpoint).create_bucket(Bucket=bucket)  # DVC does not create buckets
        yield endpoint
    finally:
        server.stop()


def s3_client(endpoint: str):
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=S3_ENV["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=S3_ENV["AWS_SECRET_ACCESS_KEY"],
        region_name=S3_ENV["AWS_DEFAULT_REGION"],
    )


def tracked_objects(root: Path, paths: tuple[str, ...] | list[str]) -> set[str]:
    """Cache object ids ('xx/yyyy...') that dvc.lock records for `paths`, directory entries included.

    These are what a push must upload and a pull must fetch for those outputs.
    """
    import yaml

    lock = yaml.safe_load((root / "dvc.lock").read_text())
    wanted, out = set(paths), set()
    cache = root / ".dvc" / "cache" / "files" / "md5"
    for stage in lock["stages"].values():
        for entry in stage.get("outs", []):
            if entry["path"] not in wanted:
                continue
            md5 = entry["md5"]
            out.add(f"{md5[:2]}/{md5[2:]}")
            if md5.endswith(".dir"):
                for item in json.loads((cache / md5[:2] / md5[2:]).read_text()):
                    out.add(f"{item['md5'][:2]}/{item['md5'][2:]}")
    return out


def experiments(show_json: list) -> dict[str, dict]:
    """Flatten `dvc exp show --json` to {experiment name: {"params": {...}, "metrics": {...}}}.

    Baselines (branches, commits) are left out; params and metrics are merged across files.
    """
    table: dict[str, dict] = {}
    for baseline in show_json:
        for group in baseline.get("experiments") or []:
            for rev in group.get("revs") or []:
                data = rev.get("data") or {}
                table[rev.get("name") or rev["rev"]] = {
                    kind: {k: v for f in (data.get(kind) or {}).values() for k, v in (f.get("data") or {}).items()}
                    for kind in ("params", "metrics")
                }
    return table
