"""The generic half of loading a settings file: ``${VAR}`` and ``*_file`` expansion, and
pydantic's errors as located lines (``file:line: field: problem (fix: ...)``).

:mod:`monitor.settings` supplies what is specific to cwdrift (which keys are secrets, which
values may wait, the models); this module only walks data. Every problem is collected, none
raised, so a file's mistakes are all reported in one go.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path
from typing import Any, get_args

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails, PydanticCustomError

from monitor.errors import ConfigError
from monitor.yamlfile import LocatedYaml, PathKey

VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")

# Whether the value at ``loc`` may stay unresolved for now (the caller does not need it yet).
Deferral = Callable[[PathKey], bool]
# A value for ``loc`` that passes validation, put where a value could not be resolved, so the
# models report only the real problem (never "must be an https URL" for an unset ${VAR}).
StandIn = Callable[[PathKey], str]


def invalid(problem: str, fix: str) -> PydanticCustomError:
    """A validator's error carrying its own fix (printed after the problem)."""
    return PydanticCustomError("cwdrift", "{problem}", {"problem": problem, "fix": fix})


def relative_to(config_file: Path, value: str) -> Path:
    """A path written in a config file: relative paths are relative to that file."""
    candidate = Path(value).expanduser()
    return candidate if candidate.is_absolute() else config_file.parent / candidate


class Expander:
    """Expands ``${VAR}`` (``${VAR:-default}``) and reads ``<secret>_file`` into ``<secret>``.

    Problems (an unset variable, an unreadable secret file) are collected in ``problems`` and
    their paths in ``failed`` (so the caller skips pydantic's view of the same value), or, where
    ``defer`` allows, in ``deferred``; either way ``stand_in`` fills the value. A literal secret
    adds a warning.
    """

    def __init__(
        self,
        located: LocatedYaml,
        env: Mapping[str, str],
        *,
        secret_keys: Collection[str],
        stand_in: StandIn = lambda loc: "",
        defer: Deferral | None = None,
    ) -> None:
        self.located = located
        self.env = env
        self.secret_keys = secret_keys
        self.stand_in = stand_in
        self.defer = defer
        self.problems: list[ConfigError] = []
        self.deferred: list[ConfigError] = []
        self.failed: list[PathKey] = []
        self.warnings: list[str] = []
        self._expanded: dict[str, str] = {}  # text with ${VAR} -> its expansion

    def expand(self, value: Any, loc: PathKey = ()) -> Any:
        if isinstance(value, dict):
            return self._mapping(value, loc)
        if isinstance(value, list):
            return [self.expand(item, (*loc, i)) for i, item in enumerate(value)]
        if isinstance(value, str):
            return self._substitute(value, loc)
        return value

    def _mapping(self, value: dict[str, Any], loc: PathKey) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key, item in value.items():
            secret_key = key.removesuffix("_file")
            if key != secret_key and secret_key in self.secret_keys:
                if secret_key in value:
                    self._fail(
                        ConfigError(
                            f"both {secret_key!r} and {key!r} are set",
                            location=self.located.where((*loc, key)),
                            fix=f"keep only one of {secret_key} and {key}",
                        ),
                        (*loc, secret_key),
                    )
                    continue
                result[secret_key] = self._secret_file(item, loc, key, secret_key)
                continue
            if key in self.secret_keys and isinstance(item, str) and item and not VAR.search(item):
                self.warnings.append(
                    f"{self.located.where((*loc, key))}: literal secret in the config file; "
                    f"use ${{VAR}} or {key}_file instead"
                )
            result[key] = self.expand(item, (*loc, key))
        return result

    def _substitute(self, text: str, loc: PathKey) -> str:
        done = self._expanded.get(text)
        if done is not None:
            return done
        missing: list[str] = []

        def replace(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            if name in self.env:
                return self.env[name]
            if default is not None:
                return default
            missing.append(name)
            return match.group(0)

        result = VAR.sub(replace, text)
        if not missing:
            if result is not text:
                # One string for every use of a text such as ${CW_CLIENT_ID}, not one per tenant.
                self._expanded[text] = result
            return result
        names = " and ".join(dict.fromkeys(missing))
        return self._fail(
            ConfigError(
                f"environment variable {names} is not set",
                location=self.located.where(loc),
                fix=f"export {missing[0]}=..., or use ${{{missing[0]}:-default}}",
            ),
            loc,
        )

    def _secret_file(self, item: Any, loc: PathKey, key: str, secret_key: str) -> str:
        reported = len(self.problems) + len(self.deferred)
        file_name = self.expand(item, (*loc, key))
        if len(self.problems) + len(self.deferred) > reported:
            return self.stand_in((*loc, secret_key))  # its ${VAR} is unset: already reported
        secret_path = relative_to(self.located.path, str(file_name))
        try:
            return secret_path.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
            return self._fail(
                ConfigError(
                    f"cannot read secret file {secret_path}: {reason or type(exc).__name__}",
                    location=self.located.where((*loc, key)),
                    fix="check the path and that cwdrift may read it",
                ),
                (*loc, secret_key),
            )

    def _fail(self, error: ConfigError, loc: PathKey) -> str:
        if self.defer is not None and self.defer(loc):
            self.deferred.append(error)
        else:
            self.problems.append(error)
            self.failed.append(loc)
        return self.stand_in(loc)


def validation_problems(
    exc: ValidationError,
    located: LocatedYaml,
    *,
    model: type[BaseModel],
    secret_keys: Collection[str] = (),
    skip: Sequence[PathKey] = (),
) -> list[ConfigError]:
    """Every error of ``exc`` (validating ``model``), located at its line, once each.

    Inputs are never echoed (they may be secrets). Errors under a path in ``skip`` were
    reported already, by the expansion.
    """
    problems: list[ConfigError] = []
    seen: set[str] = set()
    for error in exc.errors(include_input=False, include_url=False):
        loc = data_loc(error)
        if any(loc[: len(done)] == done for done in skip):
            continue
        problem, fix = _describe(error, loc, model, secret_keys)
        found = ConfigError(problem, location=located.where(loc), fix=fix)
        if str(found) not in seen:
            seen.add(str(found))
            problems.append(found)
    return problems


def data_loc(error: ErrorDetails) -> PathKey:
    """The error's path in the file's data (pydantic adds validator names such as
    ``function-after[...]`` to it, which are not keys anyone wrote)."""
    return tuple(
        part
        for part in error["loc"]
        if isinstance(part, int) or (isinstance(part, str) and "[" not in part)
    )


def _describe(
    error: ErrorDetails, loc: PathKey, model: type[BaseModel], secret_keys: Collection[str]
) -> tuple[str, str]:
    """(problem, fix) for one pydantic error."""
    context = error.get("ctx") or {}
    if error["type"] == "cwdrift":
        return str(context["problem"]), str(context["fix"])
    names = [part for part in loc if isinstance(part, str)]
    field_name = names[-1] if names else "the file"
    if error["type"] == "extra_forbidden":
        close = difflib.get_close_matches(field_name, fields_at(model, loc, secret_keys), n=1)
        if close:
            return "is not a known setting", f"rename it to {close[0]!r} (a typo?)"
        return "is not a known setting", "remove it, or see config/example.yaml for the names"
    if error["type"] == "missing":
        return "is required", f"add {field_name!r}"
    message = error["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
    return message, f"correct {field_name!r} (see config/example.yaml)"


def fields_at(model: type[BaseModel], loc: PathKey, secret_keys: Collection[str]) -> list[str]:
    """The setting names allowed beside ``loc`` (for "did you mean"), read from the models."""
    current: type[BaseModel] | None = model
    for part in loc[:-1]:
        if isinstance(part, int) or current is None:
            continue
        info = current.model_fields.get(part)
        current = _model_in(info.annotation) if info is not None else None
    if current is None:
        return []
    names = [info.alias or name for name, info in current.model_fields.items()]
    return names + [f"{name}_file" for name in names if name in secret_keys]


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The model in an annotation such as ``Schedule | None`` or ``tuple[TenantConfig, ...]``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for argument in get_args(annotation):
        found = _model_in(argument)
        if found is not None:
            return found
    return None
