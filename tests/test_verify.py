"""`gendiv verify --test-file`: a bad file is exit 2 with file and line, before any model loads."""

import subprocess
import sys

import pytest

BAD = [
    ("story", "", "no rows"),
    ("story", '{"context": "A.", "completion": "B."}\n{"context": "A."\n', ":2: not valid JSON"),
    ("story", '{"context": "A.", "completion": "B."}\n\n', ":2: blank line"),
    ("story", '{"context": "A.", "answer": "B."}\n', ":1: missing field(s) 'completion'"),
    ("qa", '{"context": "A.", "question": "Q?"}\n', ":1: missing field(s) 'answer'"),
    ("qa", '{"context": "A.", "question": "Q?", "answer": 3}\n', ":1: field 'answer' must be text"),
]


@pytest.mark.parametrize("task,text,expected", BAD, ids=[e for *_, e in BAD])
def test_bad_test_file_exits_2_naming_file_and_line(repo, tmp_path, task, text, expected):
    own = tmp_path / "own.jsonl"
    own.write_text(text, encoding="utf-8")
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "gendiv.cli",
            "verify",
            "--params",
            str(repo / "params.yaml"),
            "--test-file",
            str(own),
            "--task",
            task,
            "--out",
            str(tmp_path / "checks.json"),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 2, res.stdout + res.stderr  # 1 is reserved for mismatches
    assert len(res.stderr.strip().splitlines()) == 1 and expected in res.stderr and str(own) in res.stderr
    assert "Traceback" not in res.stderr
    assert not (tmp_path / "checks.json").exists()


def test_the_loss_checks_show_a_progress_bar_on_stderr(repo, tmp_path, raw_params, capsys):
    from gendiv import verify
    from gendiv.config import validate
    from gendiv.io import write_jsonl

    p = validate(raw_params, root=repo)
    write_jsonl(tmp_path / "data/real/story/test.jsonl", [{"id": "t0", "context": "A b c d.", "completion": "E f."}])
    checks, _ = verify.check_losses(p, tmp_path, "story", 1e-4, None)  # nothing recorded: every run fails fast
    err = capsys.readouterr().err
    assert checks and not any(c.ok for c in checks)
    assert "verify: story test losses: 100%" in err and f"{len(verify._runs(p, tmp_path, 'story'))}/" in err
