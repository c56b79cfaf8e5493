"""Connection info: headers, query parameters, URL, client address and per-connection state.

``Headers``, ``MutableHeaders`` and ``QueryParams`` (and the parsers behind them) are compiled
when the extension loaded; ``URL``, ``Address`` and ``State`` are plain Python and wrap compiled
kernels. Their surface is ``starlette.datastructures`` 1.10.0.
"""

from __future__ import annotations

from fastws.datastructures._core import (
    Headers,
    MutableHeaders,
    QueryParams,
    parse_cookie,
    parse_query_string,
    url_from_scope,
)
from fastws.datastructures._url import URL, Address, State

__all__ = [
    "URL",
    "Address",
    "Headers",
    "MutableHeaders",
    "QueryParams",
    "State",
    "parse_cookie",
    "parse_query_string",
    "url_from_scope",
]
