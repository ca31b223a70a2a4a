"""Defaults from the devstack's env file, for processes started outside it.

`devstack/exec` exports `var/devstack/env`; a bare `manage.py` or `celery` call
does not. Loading the same file as defaults makes both behave the same, while
a variable already set in the environment always wins.
"""

import os
from pathlib import Path


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines; blank lines and `#` comments are skipped."""
    values = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        values[key.strip()] = value.strip().strip("'\"")
    return values


def load_env_defaults(path: Path) -> None:
    """Set each variable of `path` that the environment does not already have."""
    if not path.is_file():
        return
    for key, value in read_env_file(path).items():
        os.environ.setdefault(key, value)
