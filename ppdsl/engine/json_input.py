"""JSON objects from files and text, with messages that name the input: the
visitor file here, and `--event @file.json` in the CLI."""

from __future__ import annotations

import json
import math

TYPE_CHECKING = False  # typing's costs the import-light `run` path its time
if TYPE_CHECKING:
    from typing import Any, Optional


class InputError(Exception):
    """An input that can't be used; the message names it and says why."""


def read_text(path: str) -> str:
    """A UTF-8 file's text, without a byte order mark."""
    try:
        with open(path, encoding="utf-8-sig") as f:
            return f.read()
    except OSError as exc:
        raise InputError(f"can't read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise InputError(f"can't read {path}: it is not UTF-8 text") from None


class _Unfit:
    """A number JSON can't carry (NaN, Infinity, 1e400), or an int with more
    digits than Python reads: kept as its text until its key is known."""

    def __init__(self, text: str):
        self.text = text


def json_object(text: str, what: str) -> dict[str, Any]:
    """Parse JSON text that must be an object; `what` names it in the message.
    A byte order mark is skipped; numbers must be finite."""
    unfit: list[_Unfit] = []

    def number(text: str, convert: Any) -> Any:
        try:
            value = convert(text)
            if convert is int or math.isfinite(value):
                return value
        except ValueError:  # an int longer than sys.get_int_max_str_digits()
            pass
        unfit.append(_Unfit(text))
        return unfit[-1]

    try:
        value = json.loads(
            text[1:] if text.startswith("\ufeff") else text,
            parse_int=lambda t: number(t, int),
            parse_float=lambda t: number(t, float),
            parse_constant=lambda t: number(t, float),
        )
    except RecursionError:
        raise InputError(f"{what} is nested too deeply") from None
    except ValueError as exc:
        raise InputError(f"{what} is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise InputError(f"{what} must be a JSON object")
    if unfit:
        shown = unfit[0].text if len(unfit[0].text) <= 24 else unfit[0].text[:20] + "..."
        kind = "a number too long to read" if unfit[0].text.lstrip("-").isdigit() else "not a finite number"
        try:
            where = _where(value, unfit[0]) or "a value"
        except RecursionError:
            where = "a value"
        raise InputError(f"{what}: {where} is {shown}, {kind}")
    return value


def _where(value: Any, target: _Unfit, path: str = "") -> Optional[str]:
    """The key path of `target` in `value` (`event_data.items[2]`), or None."""
    if value is target:
        return path
    if isinstance(value, dict):
        items = ((f"{path}.{k}" if path else str(k), v) for k, v in value.items())
    elif isinstance(value, list):
        items = ((f"{path}[{i}]", v) for i, v in enumerate(value))
    else:
        return None
    for where, v in items:
        found = _where(v, target, where)
        if found is not None:
            return found
    return None
