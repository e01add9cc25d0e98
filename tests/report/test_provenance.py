"""Provenance: the commit a report names, marked modified only where code or params differ."""

import subprocess

from gendiv.io import write_json
from gendiv.report import provenance


def test_commit_is_marked_modified_only_for_code_or_params(tmp_path):
    def git(*args):
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=tmp_path, check=True)

    git("init", "-q")
    (tmp_path / "params.yaml").write_text("seed: 0\n")
    write_json(tmp_path / "metrics/summary.json", {"loss": 1.0})
    git("add", ".")
    git("commit", "-qm", "x")
    write_json(tmp_path / "metrics/summary.json", {"loss": 2.0})  # the pipeline's own outputs
    assert "differ" not in provenance._git_commit(tmp_path)
    (tmp_path / "params.yaml").write_text("seed: 1\n")
    assert provenance._git_commit(tmp_path).endswith("(code or params differ from this commit)")
