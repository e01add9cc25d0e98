# Two entry points for a fresh machine (see README): `make repro` and `make test`; reviewers
# fetch published outputs with `make pull` (scripts/pull.sh: explains a missing remote).
VENV ?= .venv
export PATH := $(abspath $(VENV))/bin:$(PATH)
export HF_HUB_OFFLINE ?= 1
export HF_DATASETS_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM ?= false

.PHONY: install pull repro test test-slow bench

install:
	GENDIV_VENV=$(VENV) bash scripts/install.sh

pull: install
	bash scripts/pull.sh

repro: install
	gendiv check-params
	dvc repro

test: install lint
	python -m pytest -q

lint: install
	ruff check src tests bench scripts
	ruff format --check src tests bench scripts

test-slow: install
	python -m pytest -q -m slow

bench: install
	for b in bench/bench_*.py; do echo "== $$b"; python $$b || exit 1; done
