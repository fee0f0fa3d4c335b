"""The package's layers: every import inside optrace runs down the house, never back up."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "optrace"

#: From the bottom up; a module may import its own layer and those below it.
LAYERS = (
    "_core",
    "spec",
    "problems",
    "optim",
    "results",
    "engine",
    "render",
    "export",
    "tune",
    "api",
    "gallery",
    "cli",
    "__main__",
)


def layer_of(module: str) -> int:
    """The layer of a dotted module name inside optrace (``optrace.engine.plan`` -> engine)."""
    parts = module.split(".")
    assert parts[0] == "optrace", module
    if len(parts) == 1:
        raise ValueError("the package face")
    if parts[1] not in LAYERS:
        raise ValueError(f"{module} is in no layer")
    return LAYERS.index(parts[1])


def imports_of(path: Path, root: Path = PACKAGE) -> list[tuple[int, str]]:
    """Every ``optrace...`` module that the file at ``path`` imports, with its line."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    module = ".".join(path.relative_to(root.parent).with_suffix("").parts)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.startswith("optrace")]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            if base == "optrace":
                found += [(node.lineno, f"optrace.{a.name}") for a in node.names]
            elif base.startswith("optrace."):
                found.append((node.lineno, base))
    return found


def back_imports(root: Path = PACKAGE) -> list[str]:
    """``file:line: imports X`` for every import that runs up the layers."""
    wrong = []
    for path in sorted(root.rglob("*.py")):
        module = ".".join(path.relative_to(root.parent).with_suffix("").parts)
        if module in ("optrace.__init__", "optrace"):
            continue  # the package face re-exports the API lazily
        own = layer_of(module.removesuffix(".__init__"))
        for line, target in imports_of(path, root):
            if target in ("optrace", "optrace.__version__"):
                continue
            if layer_of(target) > own:
                wrong.append(f"{path.relative_to(root.parent)}:{line}: imports {target}")
    return wrong


def test_the_layers_name_every_part_of_the_package_once() -> None:
    """LAYERS against the folder: each subpackage and top-level module of optrace/ that
    exists is in exactly one layer, and no layer names a part that is gone."""
    on_disk = {p.stem for p in PACKAGE.glob("*.py") if p.name != "__init__.py"} | {
        p.name for p in PACKAGE.iterdir() if p.is_dir() and any(p.rglob("*.py"))
    }
    assert sorted(LAYERS) == sorted(on_disk)


def test_imports_run_one_way() -> None:
    """Also places every module of optrace in a layer: one outside all of them raises."""
    assert back_imports() == []


def package(root: Path, files: dict[str, str]) -> Path:
    """A small ``optrace`` package under ``root``: each file's path and text."""
    for name, text in files.items():
        path = root / "optrace" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root / "optrace"


def test_a_back_import_is_caught_in_every_form(tmp_path: Path) -> None:
    """Absolute, relative and inside a function, each at its line; the package face
    (which re-exports the top) and the imports down or within a layer are not reported."""
    root = package(
        tmp_path,
        {
            "__init__.py": "from optrace.api import Race\n",
            "results/__init__.py": "from . import trace\n",
            "results/trace.py": "from optrace._core import types\nimport optrace.engine.plan\n",
            "results/files.py": "from . import trace\nfrom ..engine import plan\n",
            "engine/__init__.py": "from optrace.results import trace\n",
            "engine/plan.py": "import optrace\n\n\ndef f():\n    from optrace import api\n",
            "api.py": "from optrace.engine.plan import f\nfrom .results.files import trace\n",
        },
    )
    assert back_imports(root) == [
        "optrace/engine/plan.py:5: imports optrace.api",
        "optrace/results/files.py:2: imports optrace.engine",
        "optrace/results/trace.py:2: imports optrace.engine.plan",
    ]


def test_a_package_whose_imports_run_down_has_no_back_import(tmp_path: Path) -> None:
    root = package(
        tmp_path,
        {
            "__init__.py": "",
            "_core/types.py": "Range = tuple\n",
            "spec/model.py": "from .. import _core\nfrom optrace._core.types import Range\n",
            "render/scene.py": "def f():\n    import optrace.spec.model\n",
            "cli/commands.py": "from optrace import api, __version__\nfrom . import commands\n",
            "api.py": "from optrace.render import scene\n",
        },
    )
    assert back_imports(root) == []


def test_a_module_in_no_layer_is_an_error(tmp_path: Path) -> None:
    root = package(tmp_path, {"__init__.py": "", "extras/more.py": "x = 1\n"})
    with pytest.raises(ValueError, match="extras"):
        back_imports(root)
