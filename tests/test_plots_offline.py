"""`dvc plots show` / `dvc plots diff` render with the committed offline template: no CDN."""

import re
import shutil
import subprocess

from workspace import REPO, dvc


def _repo_with_plot(tmp_path):
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    dvc(tmp_path, "init", "-q")
    (tmp_path / "reports/templates").mkdir(parents=True)
    shutil.copy(REPO / "reports/templates/dvc_plots_offline.html", tmp_path / "reports/templates/")
    # DVC resolves this path relative to .dvc/, like the committed .dvc/config does.
    dvc(tmp_path, "config", "plots.html_template", "../reports/templates/dvc_plots_offline.html")
    (tmp_path / "loss.csv").write_text("step,loss\n0,3.0\n1,2.5\n2,2.2\n")
    (tmp_path / "dvc.yaml").write_text("plots:\n  - loss.csv:\n      x: step\n      y: loss\n")
    git = ["git", "-c", "user.email=t@t", "-c", "user.name=t"]
    subprocess.run(git + ["add", "-A"], cwd=tmp_path, check=True)
    subprocess.run(git + ["commit", "-qm", "plot"], cwd=tmp_path, check=True)
    return tmp_path


def _assert_offline(html: str):
    assert not re.search(r"<script[^>]+src=", html), "a script is loaded from a URL"
    assert "cdn.jsdelivr" not in html
    assert "vegaEmbed" in html  # the inlined library is there and used


def test_plots_show_is_self_contained(tmp_path):
    ws = _repo_with_plot(tmp_path)
    dvc(ws, "plots", "show", "-o", "out")
    html = (ws / "out/index.html").read_text()
    _assert_offline(html)
    assert '"loss"' in html and "2.2" in html


def test_plots_diff_compares_two_revisions_offline(tmp_path):
    ws = _repo_with_plot(tmp_path)
    (ws / "loss.csv").write_text("step,loss\n0,3.0\n1,2.4\n2,1.9\n")
    dvc(ws, "plots", "diff", "HEAD", "-o", "diff")
    html = (ws / "diff/index.html").read_text()
    _assert_offline(html)
    assert "1.9" in html and "2.2" in html and "workspace" in html
