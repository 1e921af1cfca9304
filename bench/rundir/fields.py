"""Field checks for the run directory's files: each refusal is one line naming file and field.

:mod:`bench.rundir.records` reads every record through :class:`Where`, so a value that cannot be
trusted (a negative time, an unknown status, a case whose name does not match its parameters)
stops the reader with :class:`RecordError` instead of reaching a table or a gate.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from bench.cases import Case


class RecordError(ValueError):
    """A run file whose content cannot be trusted: one line naming the file and the field."""


def shown(value: Any) -> str:
    """A value as a refusal quotes it: its repr, cut at 60 characters."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


@dataclass(frozen=True)
class Where:
    """Where a value sits: the file and the entry, so that every refusal names both."""

    path: Path | str
    entry: str = ""

    def fail(self, name: str, problem: str) -> NoReturn:
        entry = f"{self.entry}: " if self.entry else ""
        raise RecordError(f"{self.path}: {entry}{name} {problem}")

    def at(self, entry: str) -> Where:
        return Where(self.path, entry)

    def obj(self, value: Any, name: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.fail(name, f"is {shown(value)}, not an object")
        return value

    def text(self, value: Any, name: str, optional: bool = False) -> str | None:
        if value is None and optional:
            return None
        if not isinstance(value, str):
            self.fail(name, f"is {shown(value)}, not a string")
        return value

    def whole(self, value: Any, name: str, minimum: int, optional: bool = False) -> int | None:
        if value is None and optional:
            return None
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
            self.fail(name, f"is {shown(value)}, not a whole number >= {minimum}")
        return value

    def number(self, value: Any, name: str, positive: bool = True, optional: bool = False) -> float | None:
        """A finite number, > 0 (times, rates) or >= 0 (spreads, errors)."""
        if value is None and optional:
            return None
        ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        if not ok or (value <= 0 if positive else value < 0):
            self.fail(name, f"is {shown(value)}, not a finite number {'> 0' if positive else '>= 0'}")
        return float(value)

    def choice(self, value: Any, name: str, choices: Sequence[str]) -> str:
        if value not in choices:
            self.fail(name, f"{shown(value)} is not one of {', '.join(choices)}")
        return value

    def names(self, value: Any, name: str) -> list[str]:
        if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
            self.fail(name, f"is {shown(value)}, not a non-empty list of names")
        return value

    def case(self, data: Any, index: int, kind: str) -> tuple[Case, Where]:
        """The case an entry describes, and where its own fields sit (named by the case)."""
        data = self.at(f"{kind} {index}").obj(data, "the entry")
        try:
            for name in ("n", "d", "m"):
                value = data[name]
                if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                    raise ValueError(f"{name} is {shown(value)}, not a whole number >= 1")
            case = Case.from_dict(data)
        except KeyError as exc:
            raise RecordError(f"{self.path}: entry {index} is not a valid case (no {exc})") from None
        except (TypeError, ValueError) as exc:
            raise RecordError(f"{self.path}: entry {index} is not a valid case ({exc})") from None
        where = self.at(f"{kind} {index} ({case.name})")
        if data.get("case", case.name) != case.name:
            where.fail("case", f"{shown(data['case'])} does not match its parameters")
        return case, where


def load_json(path: Path, required: bool) -> Any:
    """The parsed file; None when it is absent and not ``required``."""
    if not path.exists():
        if required:
            raise RecordError(f"{path}: missing; is this a run directory?")
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise RecordError(f"{path}: corrupt JSON ({exc.msg} at line {exc.lineno})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RecordError(f"{path}: cannot read ({getattr(exc, 'strerror', None) or exc})") from None
