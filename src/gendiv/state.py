"""Where gendiv keeps local state that must outlive reruns (LLM calls, embeddings, checkpoints).

The state folder is never a DVC output (DVC deletes outputs before rerunning a stage) and
must be the same folder for every run of one repository, including queued and `--temp`
experiments, which DVC runs in a temporary copy without git-ignored files. So it is an
absolute path: `$GENDIV_CACHE_DIR` when set, else `.gendiv_cache` in the repository that
DVC names in `$DVC_ROOT` (for a queued experiment DVC sets it to the original repository,
not the temporary copy), else `.gendiv_cache` in the current directory.
"""

from __future__ import annotations

import os
from pathlib import Path

from gendiv.errors import UserError

ENV_VAR = "GENDIV_CACHE_DIR"
# Each finished stage's wall time: the CLI writes it, the report lists it. Relative to the
# working directory, not under state_dir().
TIMINGS_DIR = Path(".gendiv_cache/timings")
# Top-level folders that hold DVC outputs: a cache inside one would be deleted by a rerun.
OUTPUT_FOLDERS = ("data", "models", "metrics", "reports")


def repo_root() -> Path:
    """The repository whose state this process uses (the original one for DVC temp runs)."""
    return Path(os.environ.get("DVC_ROOT") or os.getcwd()).resolve()


def state_dir() -> Path:
    """The absolute state folder (created on first use by whoever writes into it)."""
    configured = os.environ.get(ENV_VAR, "").strip()
    if not configured:
        return repo_root() / ".gendiv_cache"
    path = Path(configured).expanduser()
    if not path.is_absolute():
        raise UserError(
            f"{ENV_VAR}={configured!r}: must be an absolute path (a relative one would "
            "move with DVC's temporary experiment copies)"
        )
    path = path.resolve()
    root = repo_root()
    for folder in OUTPUT_FOLDERS:
        if path.is_relative_to(root / folder):
            raise UserError(
                f"{ENV_VAR}={configured!r}: inside {folder}/, where DVC outputs live and are "
                "deleted on rerun; use a folder outside data/, models/, metrics/, reports/"
            )
    return path


def hash_tree(root: Path, h) -> None:
    """Feed every file under `root` (relative path, size, bytes; sorted) into `h`."""
    root = Path(root)
    files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
    for f in files:
        h.update(f"{f.relative_to(root).as_posix()}\0{f.stat().st_size}\0".encode())
        with f.open("rb") as fh:
            while block := fh.read(1 << 20):
                h.update(block)
