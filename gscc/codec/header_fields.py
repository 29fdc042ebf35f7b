"""Reading the header's nested maps strictly (spec/validation.md, class ``header``): every
map below the top level has exactly the keys the spec names, integers are integers in
range, and nothing else is accepted."""

from __future__ import annotations

from collections.abc import Iterable

from ..errors import HeaderError, LimitError


def check_keys(mapping: object, what: str, required: Iterable[str], optional: Iterable[str] = ()) -> dict:
    """``mapping`` if it is a map holding every ``required`` key and no key outside
    ``required`` and ``optional``; HeaderError otherwise."""
    if not isinstance(mapping, dict):
        raise HeaderError(f"{what} is not a map")
    required = tuple(required)
    missing = [key for key in required if key not in mapping]
    if missing:
        raise HeaderError(f"{what} lacks the key {missing[0]!r}")
    unknown = sorted(set(mapping) - set(required) - set(optional))
    if unknown:
        raise HeaderError(f"{what} has the unknown key {unknown[0]!r}")
    return mapping


def int_field(
    mapping: object, key: str, low: int, high: int, above: type[HeaderError] | type[LimitError] = HeaderError,
    what: str = "header field",
) -> int:
    """The integer ``mapping[key]`` in ``low..high``: HeaderError when it is missing, not
    an integer or below ``low``; ``above`` (e.g. LimitError for a resource limit of the
    format) when it exceeds ``high``."""
    value = mapping.get(key) if isinstance(mapping, dict) else None
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise HeaderError(f"{what} {key} is missing or out of range {low}..{high}")
    if value > high:
        raise above(f"{what} {key} is {value}, above the limit of {high}")
    return value


def empty_params(entry: dict, what: str) -> None:
    """A coding's ``params`` must be an empty map in every format version so far."""
    params = entry.get("params")
    if not isinstance(params, dict) or params:
        raise HeaderError(f"{what} params must be an empty map")
