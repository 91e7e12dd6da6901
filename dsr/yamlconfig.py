"""Reading the YAML configuration files: one way to fail, a ``ConfigError`` naming the problem.

``connectors.yaml``, ``retention.yaml`` and ``jurisdictions.yaml`` are edited by people (a lawyer
edits deadlines); whatever is wrong in them is reported at start-up, file and field named.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from dsr.errors import ConfigError

M = TypeVar("M", bound=BaseModel)


def read(path: str | Path) -> Any:
    """The parsed YAML document at ``path``."""
    try:
        return yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as err:
        raise ConfigError(f"{path}: cannot read ({type(err).__name__})") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML ({err})") from None


def validate(model: type[M], data: Any, where: str) -> M:
    """``data`` as ``model``; every problem listed with its location, prefixed by ``where``."""
    try:
        return model.model_validate(dict(data) if isinstance(data, Mapping) else data)
    except ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(top)'}: {e['msg']}" for e in err.errors()
        )
        raise ConfigError(f"{where}: {problems}") from None


def load(model: type[M], path: str | Path) -> M:
    """Read and validate one configuration file."""
    return validate(model, read(path), str(path))
