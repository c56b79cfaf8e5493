"""``FASTWS_STRICT_TESTS=1`` (CI) turns a skip into a failure unless tests/conftest.py allows its reason."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PROBE = '''
import pytest

def test_missing_dependency():
    pytest.skip("some dependency is missing")

def test_allowed_reason():
    pytest.skip("no Chromium installed (apt-get install -y chromium, or set FASTWS_CHROMIUM)")

def test_compiled_only():
    pytest.skip("needs the compiled extension (--no-c-extensions)")

def test_passes():
    assert True
'''

PROBE_MODULE_SKIP = '''
import pytest

pytest.importorskip("fastws_no_such_module")

def test_never_collected():
    assert False
'''


def _run(tmp_path: Path, strict: str | None, *args: str) -> str:
    shutil.copy(Path(__file__).with_name("conftest.py"), tmp_path / "conftest.py")
    (tmp_path / "test_probe.py").write_text(PROBE)
    (tmp_path / "test_probe_module.py").write_text(PROBE_MODULE_SKIP)
    env = dict(os.environ)
    env.pop("FASTWS_STRICT_TESTS", None)
    if strict is not None:
        env["FASTWS_STRICT_TESTS"] = strict
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rA", "-c", os.devnull, "--rootdir",
         str(tmp_path), *args, str(tmp_path)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False,
    )
    return result.stdout + result.stderr


@pytest.mark.parametrize("strict", [None, "0"])
def test_without_strict_mode_skips_stay_skips(tmp_path: Path, strict: str | None) -> None:
    out = _run(tmp_path, strict)
    assert "1 passed, 4 skipped" in out, out


def test_strict_mode_fails_skips_that_are_not_allowed(tmp_path: Path) -> None:
    out = _run(tmp_path, "1", "--continue-on-collection-errors")
    assert "FAILED test_probe.py::test_missing_dependency" in out, out
    assert "FAILED test_probe.py::test_compiled_only" in out, out  # only allowed with --no-c-extensions
    assert "ERROR test_probe_module.py" in out, out  # a module-level importorskip drops no file silently
    assert "SKIPPED [1] test_probe.py" in out and "no Chromium installed" in out, out
    assert "PASSED test_probe.py::test_passes" in out, out


def test_strict_mode_allows_compiled_only_skips_with_no_c_extensions(tmp_path: Path) -> None:
    out = _run(tmp_path, "1", "--continue-on-collection-errors", "--no-c-extensions")
    assert "FAILED test_probe.py::test_compiled_only" not in out, out
    assert "FAILED test_probe.py::test_missing_dependency" in out, out
