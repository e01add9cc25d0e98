"""params.yaml: its schema, its checks, and the `gendiv check-params` command.

schema        every section and field, with its description and bounds
checks        the checks that need the file system (paths, the bundled sample, packages)
load          reading params.yaml, error messages that name the key, --task / --level
check_params  `gendiv check-params`

Stages import from here (`from gendiv.config import Params, load_params`).
"""

from gendiv.config.load import load_params, require_level, require_task, validate
from gendiv.config.schema import PARAMS_FILE, TASKS, Generator, Params, Task
from gendiv.errors import ParamsError

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
