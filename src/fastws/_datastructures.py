"""Selects the compiled ``_datastructures_c`` kernels, or their pure-Python twin ``_datastructures_py``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastws._compat import NO_EXTENSIONS

__all__ = ["Headers", "MutableHeaders", "QueryParams", "parse_cookie", "parse_query_string", "url_from_scope"]

if TYPE_CHECKING or NO_EXTENSIONS:
    from fastws._datastructures_py import (
        Headers,
        MutableHeaders,
        QueryParams,
        parse_cookie,
        parse_query_string,
        url_from_scope,
    )
else:
    try:
        from fastws._datastructures_c import (
            Headers,
            MutableHeaders,
            QueryParams,
            parse_cookie,
            parse_query_string,
            url_from_scope,
        )
    except ImportError:  # no compiled extension was built: the twin serves
        from fastws._datastructures_py import (
            Headers,
            MutableHeaders,
            QueryParams,
            parse_cookie,
            parse_query_string,
            url_from_scope,
        )
