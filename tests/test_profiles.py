"""apply-profile: merged keys, kept comments, and a bad profile changes nothing."""

import shutil

import pytest
import yaml

from gendiv.config import ParamsError, load_params
from gendiv.errors import UserError
from gendiv.profiles import apply_profile


@pytest.fixture
def params_copy(tmp_path, repo):
    target = tmp_path / "params.yaml"
    shutil.copy(repo / "params.yaml", target)
    shutil.copytree(repo / "data/bundled", tmp_path / "data/bundled")  # a symlink out of tmp_path is refused
    return target


def test_overlay_changes_only_its_keys_and_keeps_comments(params_copy, tmp_path):
    (tmp_path / "p.yaml").write_text("train:\n  epochs: 2\ndata:\n  story:\n    n_train: 40\n")
    before = yaml.safe_load(params_copy.read_text())
    apply_profile(tmp_path / "p.yaml", params_copy)
    after = yaml.safe_load(params_copy.read_text())
    assert after["train"]["epochs"] == 2 and after["data"]["story"]["n_train"] == 40
    after["train"]["epochs"], after["data"]["story"]["n_train"] = (
        before["train"]["epochs"],
        before["data"]["story"]["n_train"],
    )
    assert after == before
    assert "# master seed" in params_copy.read_text()
    load_params(params_copy)


@pytest.mark.parametrize(
    "overlay,error",
    [
        ("train:\n  epochs: -3\n", ParamsError),
        ("train:\n  epoch: 3\n", UserError),
    ],
)
def test_bad_profile_leaves_params_untouched(params_copy, tmp_path, overlay, error):
    (tmp_path / "bad.yaml").write_text(overlay)
    original = params_copy.read_bytes()
    with pytest.raises(error):
        apply_profile(tmp_path / "bad.yaml", params_copy)
    assert params_copy.read_bytes() == original
