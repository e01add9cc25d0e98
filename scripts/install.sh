#!/usr/bin/env bash
# The one install step shared by the README, .ci/run (via make) and the Dockerfile.
#
#   GENDIV_VENV=.venv      virtual environment to create/use; "system" installs into the
#                          current interpreter (the container does this)
#   GENDIV_TORCH_BUILD=cpu which torch build to expect: cpu or cuda
#
# torch is installed first on its own, pinned, so nothing later resolves another build;
# everything else comes from requirements.lock with --no-deps (the lock is complete), so
# the environment is exactly the lock. A stamp skips the work when nothing changed.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=${GENDIV_VENV:-.venv}
build=${GENDIV_TORCH_BUILD:-cpu}
torch_pin=$(grep -E '^torch==' requirements.lock)

if [ "$venv" = "system" ]; then
  py=${PYTHON:-python3}
else
  [ -x "$venv/bin/python" ] || ${PYTHON:-python3} -m venv "$venv"
  py="$venv/bin/python"
fi

stamp_dir=$("$py" -c 'import sys; print(sys.prefix)')
stamp="$stamp_dir/.gendiv-install-stamp"
want=$(cat requirements.lock pyproject.toml scripts/install.sh | sha256sum | cut -d' ' -f1)-$build
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  echo "install: environment is current ($py)"
  exit 0
fi

export PIP_DISABLE_PIP_VERSION_CHECK=1
"$py" -m pip install -q --upgrade "pip>=24"
echo "install: $torch_pin ($build build expected)"
"$py" -m pip install -q "$torch_pin"
"$py" scripts/check_torch.py "$build"
echo "install: pinned stack from requirements.lock"
"$py" -m pip install -q --no-deps -r requirements.lock
"$py" -m pip install -q --no-deps -e .
"$py" -c "import gendiv, transformers, trl, peft, dvc, sentence_transformers, openai" \
  || { echo "install: the pinned stack does not import; see the error above" >&2; exit 1; }
echo "$want" > "$stamp"
echo "install: done ($py)"
