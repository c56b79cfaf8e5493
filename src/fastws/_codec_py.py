"""Temporary alias of ``fastws.codec._json_py`` (issue 16 moves the modules; removed once every importer moved)."""

from fastws.codec._json_py import *  # noqa: F403
from fastws.codec._json_py import __all__ as __all__
