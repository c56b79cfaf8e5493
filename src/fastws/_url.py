"""Temporary alias of ``fastws.datastructures._url`` (issue 16 moves the modules; removed once every importer moved)."""

from fastws.datastructures._url import *  # noqa: F403
from fastws.datastructures._url import __all__ as __all__
