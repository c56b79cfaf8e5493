"""The package layout (issue 16): no import cycle between fastws's modules, and every import path the
README and docs/*.md show resolves, on both implementations."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHECKER = ROOT / ".ci" / "import-cycles.py"
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

# The installed-wheel legs (.ci/wheels, cibuildwheel) test a copy of tests/ alone.
checkout_only = pytest.mark.skipif(
    not (CHECKER.exists() and DOCS[0].exists()),
    reason="README.md, docs/ and .ci/ are not next to this copy of the tests",
)

# `from fastws.x import a, b` / `import fastws.x` lines in the docs' code blocks, and every dotted
# `fastws.x.y` (or `fastws.x:attr`, as uvicorn and gunicorn take it) named in the text (not a quoted
# string such as the scope key "fastws.outbox").
_STATEMENT = re.compile(r"^\s*(from fastws[\w.]* import [\w, ]+\w|import fastws[\w.]*)", re.MULTILINE)
_REFERENCE = re.compile(r"(?<![\"'])\bfastws(?:\.\w+)+(?::\w+)?")

# Resolves each path in a fresh interpreter (the implementation is chosen at import): prints a JSON
# list of the paths that did not resolve, with the error.
_RESOLVE = """
import importlib, json, sys
statements, references = json.loads(sys.argv[1])
failed = []
for statement in statements:
    try:
        exec(statement, {})
    except Exception as exc:
        failed.append([statement, repr(exc)])
for reference in references:
    dotted = reference.replace(":", ".")
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        try:
            for name in parts[cut:]:
                obj = getattr(obj, name)
        except AttributeError as exc:
            failed.append([reference, repr(exc)])
        break
    else:
        failed.append([reference, "no module"])
import fastws
print(json.dumps([fastws.IMPLEMENTATION, failed]))
"""


def documented_paths() -> tuple[list[str], list[str]]:
    statements: set[str] = set()
    references: set[str] = set()
    for path in DOCS:
        text = path.read_text(encoding="utf-8")
        statements.update(match.strip() for match in _STATEMENT.findall(text))
        references.update(_REFERENCE.findall(text))
    # Glob-like names in prose ("fastws._*_c") are patterns, not paths.
    return sorted(statements), sorted(ref for ref in references if not ref.endswith("._"))


@checkout_only
def test_the_docs_name_import_paths() -> None:
    statements, references = documented_paths()
    # The public paths the README promises are among them (the test would pass vacuously otherwise).
    assert "import fastws" in statements
    assert {"fastws.server:WebSocketProtocol", "fastws.datastructures", "fastws.fanout", "fastws.pubsub"} <= set(
        references
    )


@checkout_only
def test_every_documented_import_path_resolves(impl: SimpleNamespace) -> None:
    statements, references = documented_paths()
    env = dict(os.environ)
    env.pop("FASTWS_NO_EXTENSIONS", None)
    if impl.name == "py":
        env["FASTWS_NO_EXTENSIONS"] = "1"
    result = subprocess.run(
        [sys.executable, "-c", _RESOLVE, json.dumps([statements, references])],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=ROOT / "tests",  # not the checkout root: the installed package, as users import it
    )
    assert result.returncode == 0, result.stderr
    implementation, failed = json.loads(result.stdout.splitlines()[-1])
    assert implementation == ("cython" if impl.name == "c" else "python")
    assert failed == []


@checkout_only
def test_no_import_cycle() -> None:
    result = subprocess.run(
        [sys.executable, str(CHECKER), str(ROOT / "src")], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "no cycle" in result.stdout


@checkout_only
def test_the_cycle_check_finds_a_cycle(tmp_path: Path) -> None:
    # A lazy import inside a function closes the cycle as surely as a top-level one; an import under
    # `if TYPE_CHECKING:` does not run and does not count; a .pyx cimport counts.
    package = tmp_path / "fastws"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("from fastws import a\n")
    (package / "a.py").write_text("from fastws.sub import b\n")
    (package / "sub" / "__init__.py").write_text("")
    (package / "sub" / "b.py").write_text("def f():\n    from fastws import a\n")
    (package / "c.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from fastws import d\n")
    (package / "d.py").write_text("import fastws.c\n")
    (package / "e_c.pyx").write_text("from fastws.f cimport g\n")
    (package / "f.py").write_text("from fastws import e_c\n")
    for index in range(10):
        (package / f"m{index}.py").write_text("")
    result = subprocess.run(
        [sys.executable, str(CHECKER), str(tmp_path)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 1
    assert "fastws.a, fastws.sub.b" in result.stderr
    assert "fastws.e_c, fastws.f" in result.stderr
    assert "fastws.c" not in result.stderr.replace("fastws.c,", "")
