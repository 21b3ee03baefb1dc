"""The package's rooms (design: cli -> api/config -> experiments -> training -> models; runs beside):
no import circle among revival's modules, the models never reach the file layer, the configs stand
on the tables alone, and the run folder's code needs neither torch nor numpy. Read from the source
(module-level imports; an import inside a function is a deliberate late one, commented where it is)."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "revival"


def _module(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _top_level_imports() -> dict[str, set[str]]:
    """{module: the revival modules (and third-party roots) it imports at module level}."""
    out = {}
    for path in ROOT.rglob("*.py"):
        name, found = _module(path), set()
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.Import):
                found |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative: from the module's package up
                    up = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*up, base] if base else up)
                found.add(base)
                found |= {f"{base}.{a.name}" for a in node.names}
        out[name] = found
    return out


def _internal(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    return {m: {i for i in imps if i in graph and i != m and not m.startswith(i + ".")} for m, imps in graph.items()}


def test_no_import_circle_among_the_modules():
    graph = _internal(_top_level_imports())
    state, cycle = {}, []

    def visit(m, path):
        state[m] = "open"
        for n in sorted(graph[m]):
            if state.get(n) == "open":
                cycle.append(path[path.index(n) :] + [n] if n in path else [m, n])
            elif n not in state:
                visit(n, [*path, n])
        state[m] = "done"

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])
    assert not cycle, f"import circle(s): {[' -> '.join(c) for c in cycle[:3]]}"


def test_the_rooms_import_only_downwards():
    graph = _internal(_top_level_imports())
    above_models = ("revival.runs", "revival.training", "revival.experiments", "revival.reporting", "revival.cli")
    for m, imps in graph.items():
        if m.startswith("revival.models"):  # pure maths: no files, no loops, no commands
            assert not [i for i in imps if i.startswith(above_models) or i in ("revival.saved", "revival.api")], m
        if m.startswith("revival.config"):  # declarations over the tables: nothing that trains or writes
            assert all(
                i.startswith(("revival.config", "revival.tables", "revival.presets", "revival.errors")) for i in imps
            ), (
                m,
                imps,
            )
        if m.startswith(("revival.training", "revival.experiments", "revival.models", "revival.runs")):
            assert not [i for i in imps if i.startswith("revival.cli")], m  # the commands sit on top
        if m.startswith("revival.training"):
            assert not [i for i in imps if i.startswith("revival.experiments")], m


def test_the_run_folder_code_needs_neither_torch_nor_numpy():
    imps = _top_level_imports()["revival.runs.folder"]
    assert not {i.split(".")[0] for i in imps} & {"torch", "numpy"}
