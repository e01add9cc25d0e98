"""Remote storage: byte-identical S3 round trip, and pulling results instead of recomputing.

Runs against a throwaway project (tests/dvc_helpers.py) whose stages count their runs
outside the workspace, an S3-compatible server (moto) on 127.0.0.1, and local directory
remotes; nothing reaches the internet.
"""

import pytest

from dvc_helpers import (
    S3_ENV,
    TINY_OUTPUTS,
    assert_status_clean,
    clone,
    commit_all,
    digests,
    dvc,
    make_tiny_project,
    run_counts,
    s3_client,
    s3_server,
    tracked_objects,
)

BUCKET = "gendiv-test-artifacts"
RAN_ONCE = {"generate": 1, "train": 1}


@pytest.fixture
def s3_endpoint():
    with s3_server(BUCKET) as endpoint:
        yield endpoint


def test_s3_push_then_pull_on_a_fresh_clone_is_byte_identical(tmp_path, s3_endpoint):
    counters = tmp_path / "counters"
    origin = make_tiny_project(
        tmp_path / "origin", counters, remotes={"s3": f"s3://{BUCKET}/cache"}, default_remote="s3"
    )
    dvc(origin, "remote", "modify", "--local", "s3", "endpointurl", s3_endpoint)
    dvc(origin, "repro")
    commit_all(origin, "results")
    assert run_counts(counters) == RAN_ONCE
    produced = digests(origin, TINY_OUTPUTS)
    assert sorted(produced) == ["data/gen.jsonl", "model/config.json", "model/weights.bin"]

    dvc(origin, "push", extra_env=S3_ENV)
    listing = s3_client(s3_endpoint).list_objects_v2(Bucket=BUCKET, Prefix="cache/files/md5/")
    uploaded = {o["Key"].removeprefix("cache/files/md5/") for o in listing.get("Contents", [])}
    assert len(uploaded) == 4 and uploaded == tracked_objects(origin, TINY_OUTPUTS)

    fresh = clone(origin, tmp_path / "fresh")
    assert digests(fresh, TINY_OUTPUTS) == {}, "outputs must come from the remote, not the clone"
    dvc(fresh, "remote", "modify", "--local", "s3", "endpointurl", s3_endpoint)
    dvc(fresh, "pull", extra_env=S3_ENV)
    assert digests(fresh, TINY_OUTPUTS) == produced
    assert run_counts(counters) == RAN_ONCE
    assert_status_clean(fresh)
    for project in (origin, fresh):  # credentials come only from the environment
        for config in (project / ".dvc").glob("config*"):
            assert "testing" not in config.read_text()


def test_pull_without_credentials_fails_and_writes_nothing(tmp_path, s3_endpoint):
    counters = tmp_path / "counters"
    origin = make_tiny_project(
        tmp_path / "origin", counters, remotes={"s3": f"s3://{BUCKET}/cache"}, default_remote="s3"
    )
    dvc(origin, "remote", "modify", "--local", "s3", "endpointurl", s3_endpoint)
    dvc(origin, "repro")
    commit_all(origin, "results")
    dvc(origin, "push", extra_env=S3_ENV)
    fresh = clone(origin, tmp_path / "fresh")
    dvc(fresh, "remote", "modify", "--local", "s3", "endpointurl", s3_endpoint)
    no_creds = {k: "" for k in S3_ENV if k != "AWS_DEFAULT_REGION"} | {
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    res = dvc(fresh, "pull", extra_env=no_creds, check=False)
    assert res.returncode != 0 and "credentials" in res.stderr.lower()
    assert digests(fresh, TINY_OUTPUTS) == {}


@pytest.mark.parametrize(
    "commands",
    [
        (("pull",), ("repro",)),
        (("repro", "--pull"),),
    ],
    ids=["pull-then-repro", "repro-pull"],
)
def test_fresh_clone_pulls_results_instead_of_recomputing(tmp_path, commands):
    """The documented commands (docs/remote-storage.md). Not `repro --pull --allow-missing`:
    it skips unchanged stages without fetching their outputs."""
    counters = tmp_path / "counters"
    storage = tmp_path / "dvc-storage"
    origin = make_tiny_project(tmp_path / "origin", counters, remotes={"local": str(storage)}, default_remote="local")
    dvc(origin, "repro")
    commit_all(origin, "results")
    dvc(origin, "push")
    produced = digests(origin, TINY_OUTPUTS)
    assert run_counts(counters) == RAN_ONCE

    fresh = clone(origin, tmp_path / "fresh")
    for args in commands:
        dvc(fresh, *args)
    assert run_counts(counters) == RAN_ONCE, "a stage ran although the remote had its outputs"
    assert digests(fresh, TINY_OUTPUTS) == produced
    assert_status_clean(fresh)

    # The counters are live in the clone: a real change reruns exactly the stages it touches.
    (fresh / "params.yaml").write_text((fresh / "params.yaml").read_text().replace("lr: 0.001", "lr: 0.01"))
    dvc(fresh, "repro")
    assert run_counts(counters) == {"generate": 1, "train": 2}


def test_repository_remotes_are_a_local_default_and_s3_without_credentials(repo):
    remotes = dict(line.split()[:2] for line in dvc(repo, "remote", "list").stdout.splitlines() if line.strip())
    assert remotes["local"] == str((repo.parent / "gendiv-dvc-storage").resolve())
    assert remotes["s3"].startswith("s3://")
    assert dvc(repo, "remote", "default").stdout.strip() == "local"
    committed = (repo / ".dvc" / "config").read_text().lower()
    for secret in ("access_key", "secret", "session_token", "password", "credentialpath"):
        assert secret not in committed


def test_installed_botocore_is_one_that_dvc_s3s_aiobotocore_accepts():
    """moto and boto3 pull botocore forward; aiobotocore (dvc-s3) pins a narrow range."""
    from importlib.metadata import requires, version

    from packaging.requirements import Requirement

    pins = [Requirement(r) for r in requires("aiobotocore") if r.startswith("botocore")]
    assert pins and all(version("botocore") in pin.specifier for pin in pins), (version("botocore"), pins)


def _pull_script(cwd):
    """scripts/pull.sh (what `make pull` runs) in cwd, with the test interpreter's dvc."""
    import subprocess

    from dvc_helpers import env
    from workspace import REPO

    return subprocess.run(
        ["bash", str(REPO / "scripts/pull.sh")], cwd=cwd, env=env(), capture_output=True, text=True, timeout=600
    )


def test_make_pull_explains_a_missing_remote_then_pulls_from_the_one_pointed_at(tmp_path):
    """The reviewer recipe on a fresh clone whose default remote (like the repository's
    ../../gendiv-dvc-storage) does not exist: one gendiv line naming the remote, its folder and
    how to point at storage; nothing written. After `dvc remote add -d --local`, it pulls."""
    counters = tmp_path / "counters"
    published = tmp_path / "published"
    origin = make_tiny_project(
        tmp_path / "origin", counters, remotes={"local": str(tmp_path / "nowhere")}, default_remote="local"
    )
    dvc(origin, "repro")
    commit_all(origin, "results")
    dvc(origin, "remote", "add", "--local", "published", str(published))
    dvc(origin, "push", "-r", "published")
    fresh = clone(origin, tmp_path / "fresh")

    res = _pull_script(fresh)
    lines = res.stderr.strip().splitlines()
    assert res.returncode == 2 and len(lines) == 1 and lines[0].startswith("gendiv: "), res.stderr
    assert "'local'" in lines[0] and str(tmp_path / "nowhere") in lines[0]
    assert "dvc remote add -d --local" in lines[0] and "make repro" in lines[0]
    assert digests(fresh, TINY_OUTPUTS) == {} and not (fresh / ".dvc/cache").exists()

    dvc(fresh, "remote", "add", "-d", "--local", "mystore", str(published))
    res = _pull_script(fresh)
    assert res.returncode == 0, res.stdout + res.stderr
    assert digests(fresh, TINY_OUTPUTS) == digests(origin, TINY_OUTPUTS)
    assert run_counts(counters) == RAN_ONCE
    assert_status_clean(fresh)


def test_make_pull_from_storage_without_this_commits_outputs_says_so(tmp_path):
    empty = tmp_path / "empty-storage"
    empty.mkdir()
    origin = make_tiny_project(
        tmp_path / "origin", tmp_path / "counters", remotes={"local": str(empty)}, default_remote="local"
    )
    dvc(origin, "repro")
    commit_all(origin, "results")
    fresh = clone(origin, tmp_path / "fresh")
    res = _pull_script(fresh)
    assert res.returncode == 2 and res.stderr.strip().splitlines()[-1].startswith("gendiv: "), res.stderr
    assert "does not hold this commit's outputs" in res.stderr and str(empty) in res.stderr
    assert digests(fresh, TINY_OUTPUTS) == {}
