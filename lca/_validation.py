"""Checks at the public boundary; each error names the parameter, the rule and the value."""
from __future__ import annotations

from typing import Iterable

__all__ = ["InputError", "check_choice", "check_positive", "check_fraction", "check_file", "read_text_lines"]


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


def check_file(path) -> None:
    """Refuse a path that is not a readable file, saying what it is instead."""
    from pathlib import Path

    path = Path(path)
    if path.is_dir():
        raise InputError(f"{path} is a directory; give the file inside it (e.g. {path}/train.conllu)")
    if not path.is_file():
        raise InputError(f"{path}: no such file")


def read_text_lines(path) -> list[str]:
    """Lines of a UTF-8 file without line endings; a bad byte is reported with its line.

    A leading byte-order mark (what several Windows editors write) is dropped.
    """
    from pathlib import Path

    path = Path(path)
    check_file(path)
    raw = path.read_bytes().removeprefix(b"\xef\xbb\xbf")
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
