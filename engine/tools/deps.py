"""The project's import graph: import cycles, modules over 500 lines, and imports the layering forbids.

`python -m engine.tools.deps [--root DIR] [--json]` prints one line per finding and exits 1 when there is any.
Only `ast` is used, so nothing of the project is imported to check it. Module-level, function-level and
`if TYPE_CHECKING:` imports count alike (a lazy import still ties two modules together), and so do
`importlib.import_module` calls with a literal name; `from x import y` means the module `x.y` when there is
one, else `x`. Importing `a.b` is not counted as importing the package `a` (Python runs `a/__init__.py`
first, but a package's own imports are its own edges).
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

# What is scanned: the library, the app, the cloud client, the launcher, benchmarks and the build scripts.
# export_templates/ holds the code of generated packages, which runs elsewhere and is never imported here.
SOURCES = ("engine", "ui", "cloud", "launcher.py", "bench", "build")
MAX_LINES = 500
LONG_EXEMPT = ("ui/i18n/",)  # the string tables of every language; long by nature, not by design
# (importer, imported): top-level packages that must not be imported from the first one.
FORBIDDEN = (("engine", "ui"), ("engine", "cloud"))
_IMPORT_CALLS = {"import_module", "__import__"}
_MODULE_NAME = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")


@dataclass(frozen=True)
class Edge:
    """One import statement: `source` imports `target` (the names it takes from it) at `line`."""

    source: str
    target: str
    line: int
    names: tuple[str, ...] = ()
    how: str = "import"  # "import", or "string" for a module named in a literal (importlib.import_module("x"))


@dataclass
class Module:
    name: str
    path: str  # relative to the root, with forward slashes
    lines: int
    package: bool  # an __init__.py


@dataclass
class Graph:
    """Every scanned module, and every import statement between them or out of them."""

    modules: dict[str, Module] = field(default_factory=dict)
    edges: list[Edge] = field(default_factory=list)

    def internal(self) -> list[Edge]:
        """The imports whose target is a module of the scanned tree."""
        return [e for e in self.edges if e.target in self.modules and e.target != e.source]


@dataclass
class Report:
    cycles: list[dict] = field(default_factory=list)
    long_modules: list[dict] = field(default_factory=list)
    forbidden: list[dict] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.cycles or self.long_modules or self.forbidden)

    def lines(self) -> list[str]:
        """One human line per finding."""
        out = []
        for c in self.cycles:
            ties = "; ".join(f"{t['source']}:{t['line']} imports {t['target']}"
                             + (f" ({', '.join(t['names'])})" if t["names"] else "") for t in c["ties"])
            out.append(f"cycle: {' <-> '.join(c['modules'])}: {ties}")
        for m in self.long_modules:
            out.append(f"long module: {m['path']} has {m['lines']} lines (at most {m['max']})")
        for f in self.forbidden:
            kind = "names" if f["how"] == "string" else "imports"
            out.append(f"forbidden import: {f['path']}:{f['line']} {f['source']} {kind} {f['target']}")
        return out


def module_name(rel: Path) -> tuple[str, bool]:
    """(dotted name, is a package) of a file path relative to the root: engine/data/__init__.py -> engine.data."""
    parts = list(rel.with_suffix("").parts)
    package = parts[-1] == "__init__"
    if package:
        parts.pop()
    return ".".join(parts), package


def source_files(root: Path, sources: Iterable[str] = SOURCES) -> list[Path]:
    """The .py files under `sources` of `root`, in path order."""
    files: list[Path] = []
    for entry in sources:
        path = root / entry
        if path.is_file() and path.suffix == ".py":
            files.append(path)
        elif path.is_dir():
            files += [p for p in path.rglob("*.py") if "__pycache__" not in p.parts
                      and not _build_output(p.relative_to(root))]
    return sorted(files)


BUILD_OUTPUTS = (("build", "dist"), ("build", "work"))  # the desktop build's folders (gitignored): not our code


def _build_output(relative: Path) -> bool:
    return any(relative.parts[:len(parts)] == parts for parts in BUILD_OUTPUTS)


def _base_package(module: str, package: bool, level: int) -> str:
    """The package a relative import of `level` dots starts from."""
    parts = module.split(".") if package else module.split(".")[:-1]
    if level > 1:
        parts = parts[: len(parts) - (level - 1)]
    return ".".join(parts)


def _call_name(func: ast.expr) -> str:
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else ""


def imports_of(tree: ast.AST, module: str, package: bool, known: set[str]) -> list[Edge]:
    """Every import in `tree` (at any depth) as edges out of `module`, resolved against the `known` modules."""
    edges = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            edges += [Edge(module, alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                start = _base_package(module, package, node.level)
                base = ".".join(p for p in (start, base) if p)
            plain = []
            for alias in node.names:
                sub = f"{base}.{alias.name}" if base else alias.name
                if alias.name != "*" and sub in known:
                    edges.append(Edge(module, sub, node.lineno))
                else:
                    plain.append(alias.name)
            if plain:
                edges.append(Edge(module, base, node.lineno, tuple(plain)))
        elif isinstance(node, ast.Call) and _call_name(node.func) in _IMPORT_CALLS and node.args:
            arg = node.args[0]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and _MODULE_NAME.fullmatch(arg.value):
                edges.append(Edge(module, arg.value, node.lineno, how="string"))
    return edges


def _module_strings(tree: ast.AST, module: str, known: set[str]) -> list[Edge]:
    """Literal strings that name a dotted module of the tree ("cloud.cli"): a lazy table can load it later."""
    return [Edge(module, node.value, node.lineno, how="string") for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and "." in node.value
            and node.value in known]


def scan(root: str | Path, sources: Iterable[str] = SOURCES) -> Graph:
    """Parse every source file under `root` and collect its imports."""
    root = Path(root)
    graph = Graph()
    trees = {}
    for path in source_files(root, sources):
        rel = path.relative_to(root)
        name, package = module_name(rel)
        text = path.read_text(encoding="utf-8")
        graph.modules[name] = Module(name, rel.as_posix(), len(text.splitlines()), package)
        trees[name] = ast.parse(text, filename=str(path))
    known = set(graph.modules)
    for name, tree in trees.items():
        mod = graph.modules[name]
        graph.edges += imports_of(tree, name, mod.package, known)
        # Only across a forbidden line: within a package a module name in a string is usually just data.
        graph.edges += [e for e in _module_strings(tree, name, known)
                        if any(_top(name) == a and _top(e.target) == b for a, b in FORBIDDEN)]
    return graph


def _top(module: str) -> str:
    return module.split(".")[0]


def strongly_connected(nodes: Iterable[str], edges: Iterable[tuple[str, str]]) -> list[list[str]]:
    """Tarjan's strongly connected components (iterative: a deep import chain must not hit the recursion limit)."""
    succ: dict[str, list[str]] = {n: [] for n in nodes}
    for a, b in edges:
        succ.setdefault(a, []).append(b)
        succ.setdefault(b, [])
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    out: list[list[str]] = []
    for start in sorted(succ):
        if start in index:
            continue
        work = [(start, iter(sorted(succ[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(succ[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    top = stack.pop()
                    on_stack.discard(top)
                    component.append(top)
                    if top == node:
                        break
                out.append(sorted(component))
    return out


def find_cycles(graph: Graph) -> list[dict]:
    """Each import cycle: its modules and the import statements that tie them together."""
    internal = graph.internal()
    cycles = []
    for component in strongly_connected(graph.modules, [(e.source, e.target) for e in internal]):
        if len(component) < 2:
            continue
        members = set(component)
        ties = sorted({(e.source, e.line, e.target, e.names) for e in internal
                       if e.source in members and e.target in members})
        cycles.append({"modules": component,
                       "ties": [{"source": s, "line": n, "target": t, "names": list(names)}
                                for s, n, t, names in ties]})
    return sorted(cycles, key=lambda c: c["modules"])


def find_long_modules(graph: Graph, max_lines: int = MAX_LINES, exempt: Sequence[str] = LONG_EXEMPT) -> list[dict]:
    """Modules longer than `max_lines`, except those under an exempt folder."""
    return [{"module": m.name, "path": m.path, "lines": m.lines, "max": max_lines}
            for m in sorted(graph.modules.values(), key=lambda m: m.path)
            if m.lines > max_lines and not m.path.startswith(tuple(exempt))]


def find_forbidden(graph: Graph, rules: Sequence[tuple[str, str]] = FORBIDDEN) -> list[dict]:
    """Imports (or literal module names) from one top-level package into another that it must not know."""
    found = set()
    for e in graph.edges:
        if any(_top(e.source) == a and _top(e.target) == b for a, b in rules):
            found.add((graph.modules[e.source].path, e.line, e.source, e.target, e.how))
    return [{"path": p, "line": n, "source": s, "target": t, "how": how} for p, n, s, t, how in sorted(found)]


def check(root: str | Path, sources: Iterable[str] = SOURCES, max_lines: int = MAX_LINES) -> Report:
    """Every finding of the tree under `root`."""
    graph = scan(root, sources)
    return Report(find_cycles(graph), find_long_modules(graph, max_lines), find_forbidden(graph))


def main(argv: Sequence[str] | None = None) -> int:
    """The command line: print the findings, exit 1 when there is any."""
    parser = argparse.ArgumentParser(prog="python -m engine.tools.deps", description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=str(Path(__file__).resolve().parents[2]),
                        help="the project folder (default: the one this file is in)")
    parser.add_argument("--max-lines", type=int, default=MAX_LINES, help="the longest a module may be")
    parser.add_argument("--json", action="store_true", help="print the findings as one JSON object")
    args = parser.parse_args(argv)
    report = check(args.root, max_lines=args.max_lines)
    if args.json:
        print(json.dumps(asdict(report), indent=2))
    else:
        for line in report.lines():
            print(line)
    return 1 if report else 0


if __name__ == "__main__":
    sys.exit(main())
