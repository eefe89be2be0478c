"""Readers of manifest fields that check the type and range and name the field's path.

`SpecError` is what every manifest parser raises; the underscored readers are shared by
the `kubesat.spec` modules (`spec`, `spec_jobs`, `spec_limits`), not an API of their own.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypedDict, Unpack


class SpecError(ValueError):
    """A manifest field is missing or out of range; the message names its path."""


def _get(
    mapping: Mapping[str, Any],
    key: str,
    path: str,
    default: Any = ...,
    kind: type | tuple[type, ...] = object,
) -> Any:
    """The value at `key`, else `default` (`...`: the field is required), of type `kind`."""
    value = mapping.get(key, default) if isinstance(mapping, Mapping) else default
    if value is ...:
        raise SpecError(f"{path}.{key}: required field is missing")
    if value is not None and kind is not object and not isinstance(value, kind):
        raise SpecError(f"{path}.{key}: expected {_kind_name(kind)}, got {value!r}")
    return value


def _kind_name(kind: type | tuple[type, ...]) -> str:
    """The expected type(s) as an error message says them: "an integer or a string"."""
    names = {
        int: "an integer",
        float: "a number",
        str: "a string",
        bool: "true or false",
        dict: "a mapping",
        list: "a list",
    }
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(names.get(k, k.__name__) for k in kinds)


class _Limits(TypedDict, total=False):
    """The range a number must fall in: [minimum, maximum], the minimum itself refused if
    `exclusive_minimum`; a limit left out does not apply."""

    minimum: float
    maximum: float
    exclusive_minimum: bool


def _number(
    mapping: Mapping[str, Any], key: str, path: str, default: Any = ..., **limits: Unpack[_Limits]
) -> float:
    """A finite number within `limits`."""
    value = _get(mapping, key, path, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise SpecError(f"{path}.{key}: expected a number, got {value!r}")
    _check_limits(f"{path}.{key}", value, limits, "g")
    return float(value)


def _integer(
    mapping: Mapping[str, Any], key: str, path: str, default: Any = ..., **limits: Unpack[_Limits]
) -> int:
    """An integer (true/false refused) within `limits`."""
    value = _get(mapping, key, path, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise SpecError(f"{path}.{key}: expected an integer, got {value!r}")
    _check_limits(f"{path}.{key}", value, limits, "")
    return int(value)


def _check_limits(field: str, value: float, limits: _Limits, form: str) -> None:
    """Refuse `value` outside `limits`, naming `field`; `form` formats the numbers."""
    minimum, maximum = limits.get("minimum"), limits.get("maximum")
    exclusive = limits.get("exclusive_minimum", False)
    if minimum is not None and (value <= minimum if exclusive else value < minimum):
        sign = ">" if exclusive else ">="
        raise SpecError(f"{field}: must be {sign} {minimum:{form}}, got {value:{form}}")
    if maximum is not None and value > maximum:
        raise SpecError(f"{field}: must be <= {maximum:{form}}, got {value:{form}}")


def _positive_fraction(
    mapping: Mapping[str, Any], key: str, path: str, default: Any = ...
) -> float:
    """A fraction in (0, 1]: an efficiency, a depth of discharge, an emissivity."""
    return _number(mapping, key, path, default, minimum=0, maximum=1, exclusive_minimum=True)


def _mapping(mapping: Mapping[str, Any], key: str, path: str, default: Any = ...) -> dict[str, Any]:
    """A mapping field as a dict; {} when it is absent and its default is None."""
    value = _get(mapping, key, path, default, dict)
    return {} if value is None else dict(value)


def _reword(error: ValueError, path: str) -> SpecError:
    """Prefix a core validation message with the manifest path it came from, in the
    manifest's field names (`bus_reserve_fraction` -> `busReserveFraction`)."""
    text = re.sub(
        r"\b([a-z]+(?:_[a-z]+)+)\b",
        lambda m: m.group(1).split("_")[0] + "".join(w.title() for w in m.group(1).split("_")[1:]),
        str(error),
    )
    return SpecError(f"{path}.{text}" if re.match(r"^[a-zA-Z]+:", text) else f"{path}: {text}")


@contextmanager
def _reworded(path: str) -> Iterator[None]:
    """Raise a core `ValueError` from the block as a `SpecError` under `path`, reworded
    as `_reword` does; a `SpecError` (already naming its field) passes unchanged."""
    try:
        yield
    except SpecError:
        raise
    except ValueError as error:
        raise _reword(error, path) from None
