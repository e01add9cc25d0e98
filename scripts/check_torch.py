"""Fail loudly when the installed torch is not the build this machine needs."""

import sys

want = sys.argv[1] if len(sys.argv) > 1 else "cpu"
import torch  # noqa: E402

version, cuda = torch.__version__, torch.version.cuda
if want == "cpu" and cuda is not None:
    sys.exit(
        f"install: got torch {version} built for CUDA {cuda}, but a CPU build was expected.\n"
        "  On a CPU-only machine install the CPU wheel first, e.g.\n"
        "    pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu\n"
        "  then rerun scripts/install.sh; or set GENDIV_TORCH_BUILD=cuda on a GPU machine."
    )
if want == "cuda" and cuda is None:
    sys.exit(
        f"install: got torch {version} without CUDA, but GENDIV_TORCH_BUILD=cuda.\n"
        "  Install a CUDA build of torch==2.13.0 (the default Linux wheel on PyPI), or set\n"
        "  GENDIV_TORCH_BUILD=cpu."
    )
if want not in ("cpu", "cuda"):
    sys.exit(f"install: GENDIV_TORCH_BUILD={want!r}: expected cpu or cuda")
print(f"install: torch {version} ({'CUDA ' + cuda if cuda else 'CPU'}) ok")
