"""The `gendiv` command: one sub-command per pipeline stage (what dvc.yaml calls).

Stage modules are imported only when their command runs, so `gendiv check-params`
stays fast and a stage's heavy imports (torch, transformers) are paid once.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import sys
import time
from pathlib import Path

import typer

from gendiv.errors import ParamsError, UserError
from gendiv.state import TIMINGS_DIR

# The embedded default never reaches the hub; paper scale unsets these explicitly.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

# command name -> "module:function"; each function is a typer-style command. Listed (and shown
# by `gendiv --help`) in pipeline order: setup, data, generation, mixing, training, measurement,
# report, then the tools beside the pipeline.
COMMANDS = {
    "check-params": "gendiv.config.check_params:check_params_command",
    "base-model": "gendiv.prepare.base_model:main",
    "generator-models": "gendiv.prepare.generator_models:main",
    "prepare-real": "gendiv.prepare.real:main",
    "generate-topics": "gendiv.generate.topics:main",
    "generate-story": "gendiv.generate.story:main",
    "generate-qa-pool": "gendiv.generate.qa_pool:pool_main",
    "generate-qa": "gendiv.generate.qa:level_main",
    "generate-source": "gendiv.generate.source:generate_main",
    "mix": "gendiv.mix.sets:main",
    "mix-sources": "gendiv.mix.sources:mix_main",
    "evaluate": "gendiv.train.evaluate:main",
    "train": "gendiv.train.finetune:main",
    "embed": "gendiv.measure.embeddings:main",
    "measure": "gendiv.measure.stage:main",
    "output-diversity": "gendiv.measure.output_diversity:main",
    "self-preference": "gendiv.measure.self_preference:main",
    "adversarial": "gendiv.measure.adversarial:main",
    "report": "gendiv.report.assemble:main",
    "estimate": "gendiv.generate.estimate:main",
    "verify": "gendiv.verify:main",
    "apply-profile": "gendiv.profiles:main",
}
HELP_OPTIONS = {"help_option_names": ["-h", "--help"]}


def _report(err: BaseException) -> None:
    typer.secho(f"gendiv: error: {err}", fg=typer.colors.RED, err=True)
    sys.exit(2)


def _version(show: bool) -> None:
    if show:
        from importlib.metadata import version

        typer.echo(f"gendiv {version('gendiv')}")
        raise typer.Exit()


def _group(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print gendiv's version and exit."
    ),
) -> None:
    """gendiv: one sub-command per pipeline stage (see `gendiv --help`)."""


def build_app(selected: str | None = None) -> typer.Typer:
    """A Typer app with every command, importing only `selected`'s module when given."""
    app = typer.Typer(
        add_completion=False,
        no_args_is_help=True,
        help=__doc__,
        pretty_exceptions_enable=False,
        context_settings=HELP_OPTIONS,
    )
    app.callback()(_group)  # keep sub-command syntax even when only one command is loaded
    for name, target in COMMANDS.items():
        if selected is not None and name != selected:
            continue
        module, func = target.split(":")
        app.command(name)(getattr(importlib.import_module(module), func))
    return app


UNTIMED = {"estimate", "verify", "apply-profile"}  # tools run beside the pipeline, not stages of it


def _record_timing(argv: list[str], seconds: float) -> None:
    """Keep the wall time of a finished stage for the report (local state, not a DVC output)."""
    stage = " ".join(["gendiv", *argv])
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", " ".join(argv)).strip("_")[:150] or "gendiv"
    from gendiv.io import atomic_open

    with atomic_open(TIMINGS_DIR / f"{slug}.json") as fh:  # a kill never leaves a half-written file
        fh.write(json.dumps({"stage": stage, "seconds": round(seconds, 2)}))


def _run(app: typer.Typer, argv: list[str], label: list[str]) -> None:
    """Run a Typer app on argv; user errors print one line (exit 2), success is timed.

    Ctrl-C exits 130 (the shell's code for SIGINT), never click's "Aborted!" exit 1, which
    would read as verify's "mismatch".
    """
    start = time.perf_counter()
    try:
        app(args=argv, prog_name="gendiv", standalone_mode=True)
    except (ParamsError, UserError) as err:
        _report(err)
    except SystemExit as done:
        if done.code == 1 and _interrupted():
            sys.exit(130)
        if (
            done.code in (0, None)
            and not {"--help", "-h", "--version"} & set(argv)
            and not UNTIMED.intersection(label[:1])
            and os.environ.get("RANK", "0") == "0"
        ):  # one record per `accelerate launch`: its main process
            _record_timing(label, time.perf_counter() - start)
        raise


_SIGINT_SEEN: list[bool] = []


def _interrupted() -> bool:
    return bool(_SIGINT_SEEN)


def _watch_sigint() -> None:
    """Note a Ctrl-C, then interrupt as Python does (click turns it into exit 1)."""
    import signal

    def handler(signum, frame):
        _SIGINT_SEEN.append(True)
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, handler)


def run_command(fn) -> None:
    """Run one stage function as its own program (`python -m gendiv.<stage>`)."""
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False, context_settings=HELP_OPTIONS)
    app.command()(fn)
    _watch_sigint()
    _run(app, sys.argv[1:], [_command_of(fn), *sys.argv[1:]])


def _command_of(fn) -> str:
    """The command that runs `fn` (its timing label), from the module `python -m` runs."""
    spec = getattr(sys.modules["__main__"], "__spec__", None)
    targets = {target: name for name, target in COMMANDS.items()}
    return targets.get(f"{spec.name if spec else ''}:{fn.__name__}", Path(sys.argv[0]).stem.replace("_", "-"))


def main() -> None:
    argv = sys.argv[1:]
    selected = argv[0] if argv and argv[0] in COMMANDS else None
    _watch_sigint()
    _run(build_app(selected), argv, argv)


if __name__ == "__main__":
    main()
