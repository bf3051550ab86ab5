"""The package's shape: one folder per layer, imports only down the layers, the README's map is the tree.

The layers, top to bottom, and what each may import of the package:

* `cli/` (the command line) may import anything, and nothing imports it;
* `app.py` (one worker, wired) imports `serve`, `stream` and `core`;
* `ingest/` (the webhook gateway) imports `stream` and `core`;
* `serve/` (HTTP and Prometheus) imports `stream` and `core`;
* `stream/` (Kafka and Faust) imports `core`;
* `core/` (the pure domain) imports only itself, the standard library and orjson.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

from tests.paths import REPO

PACKAGE = REPO / "src" / "socialsla"
CLIENTS = ("aiokafka", "faust", "prometheus_client", "mode", "aiohttp", "rocksdict")
#: Which parts of the package each part may import (a part is a layer's folder, or `app`).
ALLOWED = {
    "core": {"core"},
    "stream": {"stream", "core"},
    "serve": {"serve", "stream", "core"},
    "ingest": {"ingest", "stream", "core"},
    "app": {"serve", "stream", "core"},
    "cli": {"cli", "app", "ingest", "serve", "stream", "core"},
}


def _modules() -> dict[str, Path]:
    """Every module of the package by dotted name (`socialsla.core.events`), packages included."""
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _part(module: str) -> str:
    """`core`, `stream`, `serve`, `ingest`, `cli` or `app`: where a module sits."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "package"


def _imports(path: Path) -> set[str]:
    """Every module a file imports, at its top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def _package_imports() -> dict[str, set[str]]:
    """The package's import graph: module -> the package modules it imports."""
    modules = _modules()
    return {
        name: {target for target in _imports(path) if target in modules and target != name}
        for name, path in modules.items()
    }


def test_every_module_sits_in_a_layers_folder() -> None:
    """Besides `app.py` and the package's `__init__`, every module is in core, stream, serve, ingest or cli."""
    loose = [name for name in _modules() if _part(name) not in ALLOWED and name != "socialsla"]
    assert loose == []
    top = sorted(path.name for path in PACKAGE.glob("*.py"))
    assert top == ["__init__.py", "app.py"]


def test_imports_go_only_down_the_layers() -> None:
    """No module imports a part of the package its layer may not (nothing imports the command line)."""
    wrong = sorted(
        f"{module} imports {target}"
        for module, targets in _package_imports().items()
        if _part(module) in ALLOWED
        for target in targets
        if _part(target) not in ALLOWED[_part(module)] and target != "socialsla"
    )
    assert wrong == []


def test_the_core_imports_only_the_standard_library_and_orjson() -> None:
    """Read from the source: a core module's imports are the core, the standard library or orjson."""
    outside = sorted(
        f"{module} imports {target}"
        for module, path in _modules().items()
        if _part(module) == "core"
        for target in _imports(path)
        if target.split(".")[0] not in {*sys.stdlib_module_names, "orjson", "__future__"}
        and not target.startswith("socialsla.core")
    )
    assert outside == []


def test_the_core_loads_no_client_when_imported() -> None:
    """Each core module, imported on its own, loads none of Kafka's, Faust's or Prometheus' clients."""
    core = [name for name in _modules() if _part(name) == "core"]
    assert len(core) >= 10
    probe = (
        "import importlib, sys\n"
        f"for name in {core!r}:\n"
        "    importlib.import_module(name)\n"
        f"print(sorted(m for m in {CLIENTS!r} if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]"


def test_there_is_no_import_cycle() -> None:
    """No module imports, through others, one that imports it."""
    graph = _package_imports()
    cycles = []
    state: dict[str, int] = {}  # 1 on the current path, 2 done

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in sorted(graph.get(module, ())):
            if state.get(target) == 1:
                cycles.append(" -> ".join([*path[path.index(target) :], target]))
            elif target not in state:
                visit(target, [*path, target])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert cycles == []


def _readme_tree() -> set[str]:
    """The files the README's module map names, as paths under src/socialsla/."""
    text = (REPO / "README.md").read_text()
    start = text.index("```text\nsrc/socialsla/\n")
    block = text[start : text.index("```\n", start + 8)].splitlines()[2:]
    out: set[str] = set()
    folders: list[tuple[int, str]] = []
    for line in block:
        match = re.match(r"( *)(\S+)", line)
        if match is None:
            continue
        depth, name = len(match.group(1)), match.group(2)
        while folders and folders[-1][0] >= depth:
            folders.pop()
        if name.endswith("/"):
            folders.append((depth, name))
        else:
            out.add("".join(folder for _, folder in folders) + name)
    return out


def test_the_readmes_module_map_is_the_tree() -> None:
    """The README's map names every module and page file of the package, and nothing else."""
    shipped = {
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*")
        if path.is_file() and path.suffix in (".py", ".html", ".md", ".toml") and path.name != "__init__.py"
    }
    assert _readme_tree() == shipped


def test_no_two_things_in_the_package_share_a_name() -> None:
    """Public top-level names and module names are each defined once in the package.

    Loggers (`log`) are exempt: each is the same "socialsla" logger, or its module's.
    So is a module's namesake: `core/fold.py`'s `fold` is the module's one concept.
    """
    defined: dict[str, list[str]] = defaultdict(list)
    for module, path in _modules().items():
        stem = module.rsplit(".", 1)[-1]
        if path.name != "__init__.py" and stem != "__main__":
            defined[stem].append(f"module {module}")
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                names = [node.name]
            elif isinstance(node, ast.Assign):
                names = [t.id for t in node.targets if isinstance(t, ast.Name)]
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                names = [node.target.id]
            else:
                continue
            for name in names:
                # a module named after its one function (`fold.fold`) is one thing, not two
                if not name.startswith("_") and name != "log" and name != stem:
                    defined[name].append(module)
    shared = {name: places for name, places in defined.items() if len(places) > 1}
    assert shared == {}


#: Unit tests named after no single module: what they test crosses modules on purpose.
ACROSS = {"core/test_hostile_input.py": "decoding and the wire format under random and hostile bytes"}


def test_unit_tests_mirror_the_package() -> None:
    """tests/unit/<layer>/test_<module>.py tests src/socialsla/<layer>/<module>.py: a test is where its module is."""
    unit = REPO / "tests" / "unit"
    for path in sorted(unit.rglob("test_*.py")):
        relative = path.relative_to(unit)
        if relative.parent == Path(".") or relative.as_posix() in ACROSS:
            continue  # the package as a whole (test_package), the app above the layers (test_app)
        module = PACKAGE / relative.parent / (path.stem.removeprefix("test_") + ".py")
        assert module.exists(), (
            f"tests/unit/{relative} names no module: {module.relative_to(REPO)} is missing"
        )
    assert {path.parent.name for path in unit.rglob("test_*.py")} - {"unit"} <= {
        folder.name for folder in PACKAGE.iterdir() if folder.is_dir() and folder.name != "__pycache__"
    }
