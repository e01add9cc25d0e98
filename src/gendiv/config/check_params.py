"""Command `gendiv check-params` (dvc stage `check_params`): validate params.yaml up front."""

from __future__ import annotations

from pathlib import Path

from gendiv.config.load import load_params
from gendiv.config.schema import PARAMS_FILE


def check_params_command(params: Path = Path(PARAMS_FILE), marker: Path | None = None) -> None:
    """Validate params.yaml and exit non-zero with every problem named.

    With --marker, also write a file of constant content: the `check_params` DVC stage
    depends on all of params.yaml and every other stage depends on the marker, so an
    invalid value stops `dvc repro` before DVC deletes any stage's outputs, while a valid
    change leaves the marker unchanged and reruns nothing downstream by itself.
    """
    load_params(params)
    if marker is not None:
        from gendiv.io import atomic_open

        with atomic_open(marker) as fh:
            fh.write("params.yaml passed validation\n")
    print(f"{params}: ok")
