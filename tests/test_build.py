"""Every ``.pyx`` kernel shipped with fastws is loaded compiled: a kernel the build left out, or one
that fell back to its pure-Python twin, fails here instead of passing on the twin unnoticed."""

from __future__ import annotations

import importlib
import importlib.machinery
from pathlib import Path

import pytest

import fastws

PACKAGE = Path(fastws.__file__).parent


def _kernels() -> list[str]:
    # Module names of the .pyx files shipped in the imported package (package data, also in the
    # installed wheel), e.g. "fastws.protocol._frame_c".
    return sorted(
        ".".join(("fastws", *path.relative_to(PACKAGE).with_suffix("").parts)) for path in PACKAGE.rglob("*.pyx")
    )


def test_the_package_ships_its_kernel_sources() -> None:
    assert {
        "fastws.codec._json_c",
        "fastws.datastructures._core_c",
        "fastws.fanout._step_c",
        "fastws.protocol._frame_c",
        "fastws.websocket._core_c",
    } <= set(_kernels())


@pytest.mark.compiled
@pytest.mark.parametrize("module", _kernels())
def test_every_kernel_loads_compiled(module: str) -> None:
    loaded = importlib.import_module(module)
    assert isinstance(loaded.__loader__, importlib.machinery.ExtensionFileLoader), (module, loaded.__file__)
