#!/usr/bin/env python3
"""Reject import cycles between fastws's modules (issue 16: the layout has none, and CI keeps it so).

Reads every ``.py`` under src/fastws with ``ast`` and every ``.pyx``/``.pxd`` line by line, takes each
``import``/``from ... import``/``cimport`` of a fastws module as an edge (imports inside functions
count: a lazy import hides a cycle, it does not remove it; imports under ``if TYPE_CHECKING:`` do
not run and do not count), and fails when the graph has a strongly connected component of more than
one module, printing each cycle's modules and the lines that import them. Edges to a parent package
that a submodule's import runs implicitly are not counted (a package's ``__init__`` importing its
own submodules is not a cycle). Run by the lint job of .github/workflows/ci.yml, by .ci/wheels'
lint step and by tests/test_layout.py.

    python3 .ci/import-cycles.py [SRC_DIR]      (default: src)
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

# from a.b cimport x / from a.b import x / cimport a.b / import a.b (Cython sources, one per line;
# the .pyx in this tree keep their imports at the top, one statement a line or parenthesized).
_PYX_FROM = re.compile(r"^\s*from\s+([\w.]+)\s+c?import\s+\(?([\w\s,]*)")
_PYX_IMPORT = re.compile(r"^\s*c?import\s+([\w.]+)")


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _python_imports(tree: ast.AST, package: str) -> list[tuple[str, list[str], int]]:
    # (module, imported names, line) for every import statement that runs.
    found: list[tuple[str, list[str], int]] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _type_checking(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.extend((alias.name, [], node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.append((target, [alias.name for alias in node.names], node.lineno))
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def _cython_imports(text: str) -> list[tuple[str, list[str], int]]:
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        match = _PYX_FROM.match(line)
        if match:
            names = [name.strip() for name in match.group(2).split(",") if name.strip()]
            found.append((match.group(1), names, number))
            continue
        match = _PYX_IMPORT.match(line)
        if match:
            found.append((match.group(1), [], number))
    return found


def import_graph(src: Path) -> tuple[dict[str, set[str]], dict[tuple[str, str], str]]:
    """The fastws module graph: ``{module: {imported fastws modules}}`` and, per edge, where it is."""
    root = src
    files: list[tuple[str, Path]] = []
    for path in sorted((src / "fastws").rglob("*")):
        if path.suffix in (".py", ".pyx", ".pxd") and "__pycache__" not in path.parts:
            files.append((module_name(root, path), path))  # a .pyx and its .pxd: one module
    modules = {name for name, _ in files}
    graph: dict[str, set[str]] = {name: set() for name in modules}
    where: dict[tuple[str, str], str] = {}
    for name, path in files:
        text = path.read_text(encoding="utf-8")
        is_package = path.stem == "__init__"
        package = name if is_package else name.rpartition(".")[0]
        if path.suffix == ".py":
            imports = _python_imports(ast.parse(text, str(path)), package)
        else:
            imports = _cython_imports(text)
        for target, names, line in imports:
            targets = [f"{target}.{n}" for n in names if f"{target}.{n}" in modules]
            if not targets or len(targets) < len(names):
                targets.append(target)  # names that are attributes of the module itself
            for t in targets:
                if t in modules and t != name:
                    graph[name].add(t)
                    where.setdefault((name, t), f"{path}:{line}")
    return graph, where


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def main(argv: list[str]) -> int:
    src = Path(argv[1]) if len(argv) > 1 else Path(__file__).resolve().parent.parent / "src"
    graph, where = import_graph(src)
    if len(graph) < 10:
        print(f"import-cycles: only {len(graph)} modules under {src}/fastws: wrong directory?", file=sys.stderr)
        return 1
    found = cycles(graph)
    for component in found:
        members = set(component)
        print("import-cycles: these modules import each other:", ", ".join(component), file=sys.stderr)
        for a in component:
            for b in sorted(graph[a] & members):
                print(f"    {a} -> {b}  ({where[(a, b)]})", file=sys.stderr)
    if found:
        return 1
    edges = sum(len(targets) for targets in graph.values())
    print(f"import-cycles: {len(graph)} modules, {edges} imports between them, no cycle")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
