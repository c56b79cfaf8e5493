"""The ``max_json_size`` limit of ``receive_json``/``iter_json`` and the errors of the JSON decode path.

Source: docs/errors.md; the 16 MiB default is uvicorn's ``ws_max_size``.
"""

from __future__ import annotations

import json

__all__ = ["check_json_limit", "DEFAULT_MAX_JSON_SIZE", "json_too_big", "TOO_BIG_REASON", "too_deep"]


#: The default ``max_json_size``: the largest message, in bytes (UTF-8 bytes for a text message),
#: that ``receive_json``/``iter_json`` parse. 16 MiB, uvicorn's default ``ws_max_size``.
DEFAULT_MAX_JSON_SIZE = 16 * 1024 * 1024

#: The close reason sent (code 1009, RFC 6455 section 7.4.1 "Message Too Big") when a JSON message
#: exceeds ``max_json_size``.
TOO_BIG_REASON = "JSON message over max_json_size"


def too_deep(payload: object) -> json.JSONDecodeError:
    """The error ``receive_json``/``iter_json`` raise for JSON nested past the recursion limit.

    The parser raised ``RecursionError`` (about 1,000 levels; ``[[[[...`` a million deep is
    rejected in milliseconds); it is reported as invalid JSON, so the ``except json.JSONDecodeError``
    (or ``ValueError``) that handles other bad client input handles it too.

    Args:
        payload (str | bytes): the message.

    Returns:
        json.JSONDecodeError: ``"JSON nested deeper than the recursion limit: line 1 column 1 (char 0)"``.
    """
    doc = payload if type(payload) is str else ""
    return json.JSONDecodeError("JSON nested deeper than the recursion limit", doc, 0)


def check_json_limit(value: object) -> object:
    """Validate a ``max_json_size``.

    Args:
        value (int | None): a limit in bytes, or ``None`` for none.

    Returns:
        int | None: ``value``.

    Raises:
        TypeError: ``value`` is not an int (a ``bool`` included) or ``None``.
        ValueError: ``value`` is negative.
    """
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"max_json_size must be an int or None, got {type(value).__name__}")
    if value < 0:
        raise ValueError(f"max_json_size must be >= 0, got {value}")
    return int(value)


def json_too_big(payload: object, limit: object) -> bool:
    """Whether a JSON message is over ``max_json_size``.

    Args:
        payload (str | bytes): the message (its text, or its bytes).
        limit (int | None): ``max_json_size`` in bytes; ``None`` for no limit.

    Returns:
        bool: ``True`` when the payload is longer than ``limit`` bytes (a text message is measured
        in UTF-8 bytes; encoded only when its length cannot decide).
    """
    if limit is None:
        return False
    n = len(payload)  # type: ignore[arg-type]
    if type(payload) is not str:
        return n > limit  # type: ignore[operator]
    if n * 4 <= limit:  # type: ignore[operator]
        return False
    if n > limit:  # type: ignore[operator]
        return True
    return len(payload.encode("utf-8", "surrogatepass")) > limit  # type: ignore[operator]
