"""The package's shape: the README's map lists every module, the pure core stays pure, no name is used twice."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "src" / "socialsla"
CLIENTS = ("aiokafka", "faust", "prometheus_client", "mode", "aiohttp", "rocksdict")


def _modules() -> set[str]:
    return {path.stem for path in PACKAGE.glob("*.py") if path.stem != "__init__"}


def _readme_map() -> tuple[list[str], list[str]]:
    """The modules the README names as the pure core, and as the glue."""
    text = (ROOT / "README.md").read_text()
    start = text.index("* `src/socialsla/` holds a small pure core")
    paragraph = text[start : text.index("\n* ", start + 1)]
    core, glue = paragraph.split("Around it, the glue:")
    names = re.compile(r"`([a-z_]+)`")
    return names.findall(core), names.findall(glue)


def test_the_readme_maps_every_module_on_one_side() -> None:
    core, glue = _readme_map()
    modules = _modules()
    assert {name for name in core + glue if name in modules} == modules
    assert not {name for name in core if name in modules} & {name for name in glue if name in modules}


def test_what_the_readme_calls_the_pure_core_imports_no_client() -> None:
    """Each core module, imported on its own, loads none of Kafka's, Faust's or Prometheus' clients."""
    core, _ = _readme_map()
    core = [name for name in core if name in _modules()]
    assert len(core) >= 10
    probe = (
        "import importlib, sys\n"
        f"for name in {core!r}:\n"
        "    importlib.import_module('socialsla.' + name)\n"
        f"print(sorted(m for m in {CLIENTS!r} if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]"


def test_no_two_things_in_the_package_share_a_name() -> None:
    """Public top-level names and module names are each defined once in the package.

    Loggers (`log`) are exempt: each is the same "socialsla" logger, or its module's.
    """
    defined: dict[str, list[str]] = defaultdict(list)
    for module in sorted(_modules()):
        defined[module].append(f"module {module}")
        tree = ast.parse((PACKAGE / f"{module}.py").read_text())
        for node in tree.body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                names = [node.name]
            elif isinstance(node, ast.Assign):
                names = [t.id for t in node.targets if isinstance(t, ast.Name)]
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                names = [node.target.id]
            else:
                continue
            for name in names:
                if not name.startswith("_") and name != "log":
                    defined[name].append(module)
    shared = {name: places for name, places in defined.items() if len(places) > 1}
    assert shared == {}
