"""The folder tree is the architecture: five component packages of one shape, a shared
kernel they all use, and a settings root; imports only point down that hierarchy."""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tools.offline import ROOT

COMPONENTS = ("control_plane", "security", "persistence", "observability", "edge")
MAX_FILE_LINES = 500
MAX_FUNCTION_LINES = 80


def _sources() -> list[Path]:
    files = [*(ROOT / "components").rglob("*.py"), *(ROOT / "kernel").rglob("*.py")]
    return [*sorted(files), ROOT / "settings.py"]


def _module(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path, known: set[str]) -> Iterator[str]:
    """Every project module `path` imports, at any depth (function-level imports count)."""
    package = _module(path) if path.name == "__init__.py" else _module(path).rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}".strip(".")
            # `from pkg import mod` imports the submodule when there is one.
            names = [
                f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names
            ]
        else:
            continue
        yield from (n for n in names if n in known)


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    paths = {_module(p): p for p in _sources()}
    known = set(paths)
    return {m: set(_imports(p, known)) for m, p in paths.items()}


def test_components_holds_the_five_component_packages_and_nothing_else() -> None:
    entries = {p.name for p in (ROOT / "components").iterdir() if p.name != "__pycache__"}
    assert entries == {"__init__.py", *COMPONENTS}
    marker = ast.parse((ROOT / "components" / "__init__.py").read_text())
    assert all(isinstance(n, ast.Expr) for n in marker.body), "components/__init__.py: marker only"


@pytest.mark.parametrize("name", COMPONENTS)
def test_every_component_package_has_the_same_shape(name: str) -> None:
    package = ROOT / "components" / name
    for module in ("__init__.py", "component.py", "settings.py"):
        assert (package / module).is_file(), f"components/{name}/{module}"
    init = ast.parse((package / "__init__.py").read_text())
    exported = next(
        n
        for n in init.body
        if isinstance(n, ast.Assign) and n.targets[0].id == "__all__"  # type: ignore[attr-defined]
    )
    names = ast.literal_eval(exported.value)
    assert len(names) == 2 and names[1] == names[0] + "Args", names
    settings = ast.parse((package / "settings.py").read_text())
    assert any(isinstance(n, ast.FunctionDef) and n.name == "load_section" for n in settings.body)


def test_the_import_graph_has_no_cycles(graph: dict[str, set[str]]) -> None:
    assert len(graph) > 40 and sum(len(v) for v in graph.values()) > 80, "walked nothing"
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> None:
        if module in path:
            cycle = [*path[path.index(module) :], module]
            raise AssertionError("import cycle: " + " -> ".join(cycle))
        if module in done:
            return
        for target in graph[module]:
            visit(target, [*path, module])
        done.add(module)

    for module in graph:
        visit(module, [])


def test_no_component_imports_another_component(graph: dict[str, set[str]]) -> None:
    crossings = []
    for module, targets in graph.items():
        if not module.startswith("components."):
            continue
        own = module.split(".")[1]
        for t in targets:
            if t.startswith("components.") and t.split(".")[1] != own:
                crossings.append(f"{module} -> {t}")
    assert not crossings, crossings
    assert any(m.startswith("components.persistence.") for m in graph), "walked nothing"


def test_the_kernel_imports_no_component_and_no_settings_root(graph: dict[str, set[str]]) -> None:
    kernel = {m: t for m, t in graph.items() if m == "kernel" or m.startswith("kernel.")}
    assert len(kernel) >= 10, "walked nothing"
    for module, targets in kernel.items():
        bad = [t for t in targets if t.startswith("components") or t == "settings"]
        assert not bad, f"{module} imports {bad}"
    assert "kernel" not in sys.stdlib_module_names


# What ships: the program (__main__.py, settings.py, components/, kernel/) and its policy pack.
SHIPPED = ("__main__", "settings", "components", "kernel", "policy")


def test_what_ships_never_imports_the_verification_engines() -> None:
    """verify/ judges renders for the tests and `make validate`; the program and the policy
    pack must run without it, so none of their modules reaches it at any import depth
    (through tools/ too)."""
    roots = ("components", "kernel", "policy", "tools", "verify")
    files = [*(p for r in roots for p in (ROOT / r).rglob("*.py"))]
    paths = {_module(p): p for p in [*files, ROOT / "settings.py", ROOT / "__main__.py"]}
    known = set(paths)
    shipped = [m for m in paths if m.split(".")[0] in SHIPPED]
    assert sum(m.startswith("policy.") for m in shipped) >= 3, "walked no policy module"
    assert "verify.flows.contract" in known, "the verification package moved: update SHIPPED"
    via: dict[str, str] = {m: m for m in shipped}
    queue = list(shipped)
    while queue:
        module = queue.pop()
        for target in _imports(paths[module], known):
            if target not in via:
                via[target] = f"{via[module]} -> {target}"
                queue.append(target)
    bad = [chain for target, chain in via.items() if target.split(".")[0] == "verify"]
    assert not bad, bad
    assert "tools.offline" in via, "followed no import into tools/"


def test_source_files_and_functions_stay_short() -> None:
    too_long = []
    for path in _sources():
        text = path.read_text()
        rel = path.relative_to(ROOT)
        if len(text.splitlines()) > MAX_FILE_LINES:
            too_long.append(f"{rel}: {len(text.splitlines())} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    too_long.append(f"{rel}:{node.lineno} {node.name}(): {length} lines")
    assert len(_sources()) > 40, "walked nothing"
    assert not too_long, too_long


def test_every_data_file_is_read_by_its_component() -> None:
    data_files = sorted((ROOT / "components").glob("*/data/**/*.*"))
    assert len(data_files) >= 8, "walked nothing"
    for f in data_files:
        if f.match("*/data/rules/tests/*.test.yaml"):
            continue  # promtool unit tests: read by tests/contract/test_promtool.py
        package = f.relative_to(ROOT / "components").parts[0]
        if f.parent.name == "tests" and f.name.endswith(".test.yaml"):
            # Alert rule unit tests: tests/contract/test_promtool.py runs every one of them.
            runner = (ROOT / "tests" / "contract" / "test_promtool.py").read_text()
            assert "components/*/data/rules/tests/*.test.yaml" in runner
            continue
        code = "".join(p.read_text() for p in (ROOT / "components" / package).glob("*.py"))
        assert f.name in code or f.stem in code, f"{f.relative_to(ROOT)} is never loaded"
