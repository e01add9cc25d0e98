"""The errors a user fixes (params, environment, input files): the CLI prints one line, exit 2.

They live at the bottom of the import graph, below every stage and library module, so that
raising one never imports the CLI.
"""

from __future__ import annotations


class UserError(RuntimeError):
    """An error the user fixes by changing params or the environment: no traceback."""


class InputError(UserError):
    """A file the user supplies or a stage reads is unreadable: the message names file, line and fault."""


class ParamsError(ValueError):
    """params.yaml is invalid; the message lists every problem, one per line."""
