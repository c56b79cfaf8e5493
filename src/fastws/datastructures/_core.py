"""Selects the compiled ``_core_c`` kernels, or their pure-Python twin ``_core_py``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastws._compat import NO_EXTENSIONS

__all__ = ["Headers", "MutableHeaders", "QueryParams", "parse_cookie", "parse_query_string", "url_from_scope"]

if TYPE_CHECKING or NO_EXTENSIONS:
    from fastws.datastructures._core_py import (
        Headers,
        MutableHeaders,
        QueryParams,
        parse_cookie,
        parse_query_string,
        url_from_scope,
    )
else:
    try:
        from fastws.datastructures._core_c import (
            Headers,
            MutableHeaders,
            QueryParams,
            parse_cookie,
            parse_query_string,
            url_from_scope,
        )
    except ImportError:  # no compiled extension was built: the twin serves
        from fastws.datastructures._core_py import (
            Headers,
            MutableHeaders,
            QueryParams,
            parse_cookie,
            parse_query_string,
            url_from_scope,
        )
