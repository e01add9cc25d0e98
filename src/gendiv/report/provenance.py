"""The report's provenance: which commit, dvc.lock, machine and packages made its numbers.

Also the params that differ from the paper's (profiles/paper.yaml), each with the reason
written beside it in params.yaml, and each stage's wall time. The last section of
REPORT.md; kept apart from assemble.py, which writes the findings, because none of this
reads a metric.
"""

from __future__ import annotations

import hashlib
import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path

import yaml

from gendiv.io import read_json
from gendiv.layout import PAPER_PROFILE
from gendiv.profiles import param_comments
from gendiv.report import results
from gendiv.report.cells import table as _table
from gendiv.state import TIMINGS_DIR

# What decides the numbers: a change elsewhere (dvc.lock, metrics, this report, written by the
# very pipeline run the report belongs to) must not mark the commit as modified.
CODE_AND_PARAMS = ("src", "params.yaml", "dvc.yaml", "pyproject.toml", "profiles")

PACKAGES = (
    "gendiv",
    "torch",
    "transformers",
    "peft",
    "trl",
    "accelerate",
    "datasets",
    "sentence-transformers",
    "openai",
    "dvc",
    "dvc-s3",
    "scikit-learn",
    "scipy",
)


def params_vs_paper(root: Path) -> list[tuple[str, object, object]]:
    path = root / PAPER_PROFILE
    if not path.is_file():
        return []
    ours = results.flatten(yaml.safe_load((root / "params.yaml").read_text(encoding="utf-8")))
    paper = results.flatten(yaml.safe_load(path.read_text(encoding="utf-8")))
    return [(k, ours.get(k), paper.get(k)) for k in sorted(set(ours) | set(paper)) if ours.get(k) != paper.get(k)]


def _git_commit(root: Path) -> str:
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "--", *CODE_AND_PARAMS],
            cwd=root,
            capture_output=True,
            text=True,
        ).stdout.strip()
        return sha + (" (code or params differ from this commit)" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"


def provenance(root: Path) -> dict:
    lock = root / "dvc.lock"
    versions = {}
    for pkg in PACKAGES:
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = "not installed"
    try:
        import torch

        accel = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none (CPU)"
        threads = torch.get_num_threads()
    except ImportError:
        accel, threads = "unknown", 0
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30 if hasattr(os, "sysconf") else 0
    timings = []
    for path in sorted((root / TIMINGS_DIR).glob("*.json")):
        rec = read_json(path)
        timings.append((rec["stage"], rec["seconds"]))
    return {
        "git_commit": _git_commit(root),
        "dvc_lock_sha256": hashlib.sha256(lock.read_bytes()).hexdigest() if lock.is_file() else "no dvc.lock",
        "packages": versions,
        "hardware": f"{platform.machine()} {platform.processor() or ''}".strip()
        + f", {os.cpu_count()} CPU cores ({threads} torch threads), {mem:.0f} GiB RAM, accelerator: {accel}",
        "python": platform.python_version(),
        "timings": timings,
    }


def section(root: Path) -> list[str]:
    """Markdown lines of the section: commit, dvc.lock, hardware and packages, the deviations
    from the paper's params and the wall time per stage."""
    prov = provenance(root)
    md = [
        "## Provenance",
        "",
        f"- git commit: `{prov['git_commit']}`",
        f"- dvc.lock sha256 (as the report stage started): `{prov['dvc_lock_sha256']}`",
        f"- hardware: {prov['hardware']}; Python {prov['python']}",
        "- packages: " + ", ".join(f"{k} {v}" for k, v in prov["packages"].items()),
        "",
    ]
    diffs = params_vs_paper(root)
    if diffs:
        reasons = param_comments(root / "params.yaml")
        md += [
            "### Deviations from the paper (params that differ from `profiles/paper.yaml`)",
            "",
            "Each reason is the comment beside the value in `params.yaml`.",
            "",
            _table(
                ["key", "this run", "paper", "why (params.yaml)"],
                [[f"`{k}`", a, b, reasons.get(k, "")] for k, a, b in diffs],
            ),
            "",
        ]
    if prov["timings"]:
        md += [
            "### Wall time per stage (as run on this machine)",
            "",
            "The last run of each stage; a stage whose work came from a cache (LLM calls, "
            "embeddings) shows that run's time, not the first one's.",
            "",
            _table(["stage", "seconds"], [[s, f"{t:.1f}"] for s, t in prov["timings"]]),
            "",
        ]
    return md
