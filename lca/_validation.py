"""Checks at the public boundary; each error names the parameter, the rule and the value."""
from __future__ import annotations

from typing import Iterable

__all__ = ["InputError", "check_choice", "check_positive", "check_fraction", "read_text_lines"]


class InputError(ValueError):
    """Bad user input (a file, an option, a model id).  The command line prints it without a traceback."""


def check_choice(name: str, value, allowed: Iterable) -> None:
    allowed = tuple(allowed)
    if value not in allowed:
        raise InputError(f"{name} must be one of {', '.join(map(repr, allowed))}; got {value!r}")


def check_positive(name: str, value, integer: bool = False, allow_zero: bool = False) -> None:
    kind = int if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kind):
        raise InputError(f"{name} must be a{'n integer' if integer else ' number'}; got {value!r}")
    if value < 0 or (value == 0 and not allow_zero):
        raise InputError(f"{name} must be {'>= 0' if allow_zero else '> 0'}; got {value!r}")


def check_fraction(name: str, value, low_open: bool = True) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
        (0 < value if low_open else 0 <= value) and value <= 1
    ):
        raise InputError(f"{name} must be a fraction in {'(0' if low_open else '[0'}, 1]; got {value!r}")


def read_text_lines(path) -> list[str]:
    """Lines of a UTF-8 file without line endings; a bad byte is reported with its line."""
    from pathlib import Path

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    raw = path.read_bytes()
    lines = []
    for number, chunk in enumerate(raw.split(b"\n"), start=1):
        try:
            lines.append(chunk.decode("utf-8").rstrip("\r"))
        except UnicodeDecodeError as err:
            raise InputError(
                f"{path}, line {number}: not valid UTF-8 (byte {chunk[err.start]:#04x} at column {err.start + 1}); "
                "save the file as UTF-8"
            ) from None
    if lines and lines[-1] == "":
        lines.pop()
    if not any(line.strip() for line in lines):
        raise InputError(f"{path}: the file is empty")
    return lines
