"""params.yaml's schema, its checks, and the `gendiv check-params` command.

Stages import from here (`from gendiv.config import Params, load_params`); the modules
inside say which part they own.
"""

from gendiv.config.schema import (
    PARAMS_FILE,
    TASKS,
    Generator,
    Params,
    ParamsError,
    Task,
    load_params,
    require_level,
    require_task,
    validate,
)

__all__ = [
    "PARAMS_FILE",
    "TASKS",
    "Generator",
    "Params",
    "ParamsError",
    "Task",
    "load_params",
    "require_level",
    "require_task",
    "validate",
]
