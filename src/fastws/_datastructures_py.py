"""Temporary alias of ``fastws.datastructures._core_py``
(issue 16 moves the modules; removed once every importer moved)."""

from fastws.datastructures._core_py import *  # noqa: F403
from fastws.datastructures._core_py import __all__ as __all__
