"""A throwaway copy of this repository (files git would commit) for pipeline tests."""

import os
import shutil
import subprocess
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def copy_workspace(dest: Path, with_outputs: tuple[str, ...] = ()) -> Path:
    """Copy tracked and unignored files into `dest` as a fresh git repo with one commit.

    `with_outputs` names ignored paths (e.g. DVC outputs such as models/base) to copy too,
    so a test can skip slow upstream stages it does not test.
    """
    files = _git(REPO, "ls-files", "-co", "--exclude-standard", "-z").split("\0")
    for rel in filter(None, files):
        src = REPO / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    for rel in with_outputs:
        src = REPO / rel
        if src.is_dir():
            shutil.copytree(src, dest / rel, dirs_exist_ok=True)
        elif src.exists():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    _git(dest, "init", "-q")
    _git(dest, "-c", "user.email=t@t", "-c", "user.name=t", "add", "-A")
    _git(dest, "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "workspace copy")
    return dest


def dvc(cwd: Path, *args: str, check: bool = True, timeout: int = 3000) -> subprocess.CompletedProcess:
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    bin_dir = Path(os.sys.executable).parent
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    res = subprocess.run(
        [str(bin_dir / "dvc"), *args], cwd=cwd, capture_output=True, text=True, env=env, timeout=timeout
    )
    if check and res.returncode != 0:
        raise AssertionError(f"dvc {' '.join(args)} failed ({res.returncode}):\n{res.stdout}\n{res.stderr}")
    return res


def edit_params(cwd: Path, updates: dict) -> None:
    """Set dotted keys in cwd/params.yaml (comments are not kept: tests only)."""
    path = cwd / "params.yaml"
    raw = yaml.safe_load(path.read_text())
    for dotted, value in updates.items():
        node = raw
        *parents, last = dotted.split(".")
        for part in parents:
            node = node[part]
        node[last] = value
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
