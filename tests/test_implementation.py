"""Which implementation ``import fastws`` selects, checked in fresh interpreters."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

PROBE = (
    "import fastws, fastws.codec._json, fastws.datastructures._core, fastws.protocol._frame, fastws.fanout._step; "
    "print(fastws.IMPLEMENTATION); "
    "print(fastws.WebSocket.__module__); "
    "print(fastws.Headers.__module__); "
    "print(fastws.codec._json.encode_json_text.__module__); "
    "print(fastws.protocol._frame.FrameParser.__module__); "
    "print(fastws.fanout._step.start_each.__module__)"
)


def probe(no_extensions: str | None) -> list[str]:
    env = dict(os.environ)
    env.pop("FASTWS_NO_EXTENSIONS", None)
    if no_extensions is not None:
        env["FASTWS_NO_EXTENSIONS"] = no_extensions
    result = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def test_compiled_implementation_by_default(pytestconfig: pytest.Config) -> None:
    if pytestconfig.getoption("--no-c-extensions"):
        pytest.skip("run without the compiled extensions (--no-c-extensions)")
    assert probe(None) == [
        "cython",
        "fastws.websocket._core_c",
        "fastws.datastructures._core_c",
        "fastws.codec._json_c",
        "fastws.protocol._frame_c",
        "fastws.fanout._step_c",
    ]


@pytest.mark.parametrize("value", ["", "0"])
def test_empty_or_zero_does_not_disable_the_extensions(pytestconfig: pytest.Config, value: str) -> None:
    if pytestconfig.getoption("--no-c-extensions"):
        pytest.skip("run without the compiled extensions (--no-c-extensions)")
    assert probe(value)[0] == "cython"


@pytest.mark.parametrize("value", ["1", "yes", "true"])
def test_no_extensions_env_var_selects_the_python_twins(value: str) -> None:
    assert probe(value) == [
        "python",
        "fastws.websocket._core_py",
        "fastws.datastructures._core_py",
        "fastws.codec._json_py",
        "fastws.protocol._frame_py",
        "fastws.fanout._step_py",
    ]
