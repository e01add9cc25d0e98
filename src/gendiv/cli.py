"""The `gendiv` command: one sub-command per pipeline stage (what dvc.yaml calls).

Stage modules are imported only when their command runs, so `gendiv check-params`
stays fast and a stage's heavy imports (torch, transformers) are paid once.
"""

from __future__ import annotations

import importlib
import os
import sys

import click
import typer
import typer.main

# The embedded default never reaches the hub; paper scale unsets these explicitly.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

# command name -> "module:function"; each function is a typer-style command.
COMMANDS = {
    "check-params": "gendiv.params:check_params_command",
    "prepare-real": "gendiv.prepare_real:main",
    "base-model": "gendiv.base_model:main",
}


class UserError(RuntimeError):
    """An error the user fixes by changing params or the environment: no traceback."""


def _user_error_types() -> tuple[type[BaseException], ...]:
    from gendiv.params import ParamsError

    return (ParamsError, UserError)


class _LazyGroup(click.Group):
    def list_commands(self, ctx):
        return sorted(COMMANDS)

    def get_command(self, ctx, name):
        if name not in COMMANDS:
            return None
        module, func = COMMANDS[name].split(":")
        fn = getattr(importlib.import_module(module), func)
        return typer.main.get_command_from_info(
            typer.models.CommandInfo(name=name, callback=fn),
            pretty_exceptions_short=True, rich_markup_mode=None,
        )


def _report(err: BaseException) -> None:
    typer.secho(f"gendiv: error: {err}", fg=typer.colors.RED, err=True)
    sys.exit(2)


@click.group(cls=_LazyGroup, help=__doc__)
def cli() -> None:
    pass


def run_command(fn) -> None:
    """Run one stage function as its own program (`python -m gendiv.<stage>`)."""
    try:
        typer.run(fn)
    except _user_error_types() as err:
        _report(err)


def main() -> None:
    try:
        cli.main(standalone_mode=False)
    except _user_error_types() as err:
        _report(err)
    except click.ClickException as err:
        err.show()
        sys.exit(err.exit_code)
    except click.exceptions.Abort:
        sys.exit(1)


if __name__ == "__main__":
    main()
