"""Which JSON library the codec twins may use, decided once at import.

The contract of ``send_json``/``receive_json`` is the standard library's text and errors
(Starlette 1.10, ``starlette/websockets.py``: ``json.dumps(data, separators=(",", ":"),
ensure_ascii=False)`` and ``json.loads``). orjson is only a faster way to produce the same result,
so it is optional:

- orjson is not installed, or cannot be imported (PyPy, where it has no wheels, or a platform
  without one): ``ORJSON_DUMPS``/``ORJSON_LOADS`` are ``None`` and the codec uses ``json`` only;
- ``FASTWS_NO_ORJSON`` set to anything but ``""`` or ``"0"``: the same, on purpose (to compare, or
  to rule orjson out when debugging);
- orjson is imported: its float formatting is compared with ``repr`` once, here. Floats of
  magnitude 1e16 and up are written ``1e+16`` by Python and by orjson since 3.11.7, but ``1e16``
  by older orjson; where a range of floats does not match, ``FLOAT_MIN``/``FLOAT_MAX`` exclude it
  and those floats take the standard library's path.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

__all__ = [
    "FLOAT_MAX",
    "FLOAT_MIN",
    "JSON_BACKEND",
    "ORJSON_DECODE_ERROR",
    "ORJSON_DUMPS",
    "ORJSON_ENCODE_ERROR",
    "ORJSON_LOADS",
    "ORJSON_VERSION",
    "describe",
]

_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode

# Probes for the two ranges that matter: below 1e16 Python's repr writes plain decimals (from 1e-4
# up), from 1e16 it writes exponents with an explicit "+". Each value is checked with its negative.
_PLAIN_PROBES = (1e-4, 0.000123456789, 0.1, 1.5, 1 / 3, 123456.789, 2.0**53, 9999999999999998.0, 1234567890123456.7)
_EXPONENT_PROBES = (1e16, 1.5e16, 1e17, 1e22, 1.2345e100, 1e300, 1.7976931348623157e308)


def _matches(dumps: Callable[[Any], bytes], values: tuple[float, ...]) -> bool:
    try:
        return all(dumps(x).decode() == _encode(x) and dumps(-x).decode() == _encode(-x) for x in values)
    except Exception:  # noqa: BLE001 - any failure of the probe means "do not trust this range"
        return False


ORJSON_DUMPS: Callable[[Any], bytes] | None = None
ORJSON_LOADS: Callable[[Any], Any] | None = None
# Exception classes that never match when orjson is absent (an empty tuple catches nothing).
ORJSON_DECODE_ERROR: type[BaseException] | tuple[()] = ()
ORJSON_ENCODE_ERROR: type[BaseException] | tuple[()] = ()
ORJSON_VERSION: str | None = None
#: Finite floats with ``FLOAT_MIN <= abs(x) < FLOAT_MAX`` (and ``0.0``) are formatted by orjson exactly as by ``repr``.
FLOAT_MIN: float = float("inf")
FLOAT_MAX: float = 0.0

if os.environ.get("FASTWS_NO_ORJSON", "") in ("", "0"):
    try:
        import orjson
    except ImportError:
        pass
    else:
        ORJSON_DUMPS = orjson.dumps
        ORJSON_LOADS = orjson.loads
        ORJSON_DECODE_ERROR = orjson.JSONDecodeError
        ORJSON_ENCODE_ERROR = orjson.JSONEncodeError
        ORJSON_VERSION = getattr(orjson, "__version__", "unknown")
        if _matches(orjson.dumps, _PLAIN_PROBES):
            FLOAT_MIN = 1e-4
            FLOAT_MAX = float("inf") if _matches(orjson.dumps, _EXPONENT_PROBES) else 1e16

#: ``"orjson"`` when orjson does the work it is known to do exactly, else ``"json"`` (the standard library only).
JSON_BACKEND: str = "json" if ORJSON_DUMPS is None else "orjson"


def describe() -> str:
    """One line for humans: the backend, its version, and the floats it leaves to ``json``.

    Returns:
        str: for example ``"orjson 3.13.0"``, ``"orjson 3.10.0 (floats >= 1e16 via json)"`` or
        ``"json (standard library; orjson not installed)"``.
    """
    if ORJSON_DUMPS is None:
        why = "FASTWS_NO_ORJSON set" if os.environ.get("FASTWS_NO_ORJSON", "") not in ("", "0") else (
            "orjson not installed"
        )
        return f"json (standard library; {why})"
    if FLOAT_MIN == float("inf"):
        return f"orjson {ORJSON_VERSION} (floats via json)"
    if FLOAT_MAX != float("inf"):
        return f"orjson {ORJSON_VERSION} (floats >= 1e16 via json)"
    return f"orjson {ORJSON_VERSION}"
