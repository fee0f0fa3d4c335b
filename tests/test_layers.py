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


def test_every_module_belongs_to_a_layer() -> None:
    for path in PACKAGE.rglob("*.py"):
        module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if module != "optrace.__init__":
            layer_of(module.removesuffix(".__init__"))


def test_imports_run_one_way() -> None:
    assert back_imports() == []


def test_a_back_import_is_caught(tmp_path: Path) -> None:
    """The check itself fails on an import that runs back up (here: results -> engine)."""
    root = tmp_path / "optrace"
    (root / "results").mkdir(parents=True)
    (root / "engine").mkdir()
    (root / "results" / "trace.py").write_text(
        "from optrace.engine.plan import prepare\nfrom optrace._core.types import Range\n"
    )
    (root / "engine" / "plan.py").write_text("def f():\n    from optrace.results import trace\n")
    assert back_imports(root) == ["optrace/results/trace.py:1: imports optrace.engine.plan"]


@pytest.mark.parametrize("name", ["optrace.engine.loop", "optrace.cli.commands"])
def test_layer_names(name: str) -> None:
    assert LAYERS[layer_of(name)] == name.split(".")[1]
