# syntax=docker/dockerfile:1
# gendiv on a CUDA PyTorch runtime: the repository's files (in a fresh git repository, so
# `dvc repro` and `dvc exp` work; the host's .git, whose config may hold a token, stays out)
# plus the exact environment of requirements.lock, installed by the same
# scripts/install.sh that the README and .ci/run use. Data, generated sets and models are
# not baked in: `dvc pull` fetches them. Build and run (see README, docs/remote-storage.md):
#
#   docker build -t gendiv .
#   docker run --gpus all --rm -it -v "$(dirname "$PWD")/gendiv-dvc-storage:/home/gendiv/gendiv-dvc-storage" \
#       gendiv bash -c "dvc pull && dvc repro && dvc status"
#
# The base only supplies Python and the CUDA user-space; install.sh then installs
# torch==2.13.0 from the lock (replacing the base's torch unless BASE_IMAGE already carries
# 2.13.0) and fails the build unless it is a CUDA build (scripts/check_torch.py cuda).
ARG BASE_IMAGE=pytorch/pytorch:2.9.0-cuda12.8-cudnn9-runtime
FROM ${BASE_IMAGE}

ARG UID=1000
# The environment is the image's interpreter (GENDIV_VENV for install.sh, VENV for the
# Makefile, so `make test` / `make repro` find it current instead of building a .venv).
ENV PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    GENDIV_VENV=system \
    VENV=system \
    GENDIV_TORCH_BUILD=cuda \
    PYTHON=python

SHELL ["/bin/bash", "-o", "pipefail", "-c"]

# git: DVC pipelines and experiments live in git; make: the Makefile entry points.
# Versions come with the base image's Ubuntu release, which BASE_IMAGE pins.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends git make \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --non-unique --uid "${UID}" --shell /bin/bash gendiv \
    && install -d -o gendiv -g gendiv /home/gendiv/gendiv \
    && git config --system --add safe.directory /home/gendiv/gendiv

WORKDIR /home/gendiv/gendiv

# The install step first, from only what it reads: edits outside src/ keep this layer, and
# a rebuild after src/ edits reinstalls from the pip cache mount instead of downloading.
COPY --chown=gendiv:gendiv requirements.lock pyproject.toml README.md ./
COPY --chown=gendiv:gendiv scripts/install.sh scripts/check_torch.py scripts/
COPY --chown=gendiv:gendiv src/ src/
RUN --mount=type=cache,target=/root/.cache/pip bash scripts/install.sh \
    && python -c "import torch; assert torch.__version__.split('+')[0] == '2.13.0', torch.__version__"

COPY --chown=gendiv:gendiv . .

USER ${UID}
# .dockerignore keeps .git out; DVC needs a repository, so commit the copied files afresh.
RUN git init -q \
    && git add -A \
    && git -c user.name=gendiv -c user.email=gendiv@localhost commit -qm "gendiv image"
CMD ["bash"]
