"""The core's layers (docs/design.md): each subpackage of ``clrdsl`` imports, at module
level, only from the layers below it; the core imports no plugin and no framework.

A deferred import (inside a function) may reach upward only where it is listed here, each
for its reason: a new upward reach is a design decision, not an accident.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import clrdsl

ROOT = Path(clrdsl.__file__).parent

#: bottom first; a layer may import its own modules and those of the layers before it
ORDER = ["diagnostics", "contract", "semantics", "language", "evaluation", "api", "integrations", "tools", "face"]

#: deferred imports that reach upward: (importing module, imported module)
UPWARD = {
    # the catalogue renders the table of parameter kinds, which the contract owns
    ("clrdsl.diagnostics.codes", "clrdsl.contract.functions"),
    # a plugin function shadowed by a name of the language (the prelude, math functions)
    ("clrdsl.contract.registry", "clrdsl.language.check"),
    ("clrdsl.contract.registry", "clrdsl.semantics.model"),
    # a compiled schedule displays itself in notebooks
    ("clrdsl.contract.backend", "clrdsl.tools.display"),
}

FRAMEWORKS = ("torch", "tensorflow", "keras", "jax", "optax", "lightning", "transformers", "timm")
PLUGINS = ("clrdsl_numpy", "clrdsl_torch", "clrdsl_keras", "clrdsl_jax", "clrdsl_stdlib", "clrdsl_demo")

def layer(module: str) -> str:
    parts = module.split(".")
    if module in ("clrdsl", "clrdsl.__init__", "clrdsl.__main__"):
        return "face"
    if parts[1] in ("api", "vocabulary"):
        return "api"
    return parts[1]


def modules():
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT.parent).with_suffix("")
        name = ".".join(rel.parts)
        yield name.removesuffix(".__init__") if name.endswith(".__init__") else name, path


def imports(path: Path):
    """(imported module, deferred?) for each import of clrdsl, a plugin or a framework;
    imports under ``if TYPE_CHECKING:`` are annotations only and are left out."""
    tree = ast.parse(path.read_text(encoding="utf-8"))

    def visit(node, deferred):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                for sub in child.orelse:
                    yield from visit(sub, deferred)
                continue
            inner = deferred or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.Import):
                for alias in child.names:
                    yield alias.name, inner
            elif isinstance(child, ast.ImportFrom) and child.level == 0 and child.module:
                if child.module == "clrdsl" or (child.module.count(".") == 1 and child.module.startswith("clrdsl.")
                                                and layer(child.module) not in ("api", "face")):
                    for alias in child.names:  # `from clrdsl.contract import registry`
                        yield f"{child.module}.{alias.name}", inner
                else:
                    yield child.module, inner
            yield from visit(child, inner)

    yield from visit(tree, False)


def test_every_module_belongs_to_a_layer():
    found = {layer(name) for name, _ in modules()}
    assert found <= set(ORDER), found - set(ORDER)
    assert {"diagnostics", "contract", "semantics", "language", "evaluation", "tools"} <= found


def test_no_relative_imports():
    """Imports inside the core are absolute, so a module names the layer it reaches."""
    for name, path in modules():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                assert node.level == 0, f"{name}: relative import from {'.' * node.level}{node.module or ''}"


@pytest.mark.parametrize("name,path", list(modules()), ids=lambda v: v if isinstance(v, str) else "")
def test_imports_go_down_the_layers(name, path):
    here = ORDER.index(layer(name))
    for target, deferred in imports(path):
        top = target.split(".")[0]
        if top == "clrdsl":
            if target == "clrdsl":
                there = ORDER.index("face")
            else:
                there = ORDER.index(layer(target))
            if there > here:
                assert deferred and (name, target) in UPWARD, (
                    f"{name} ({layer(name)}) imports {target} ({layer(target)}), a layer above it"
                    + ("" if deferred else " at module level"))
        elif top in FRAMEWORKS + PLUGINS:
            # the trainer integrations are adapters written against their trainer's library
            assert layer(name) == "integrations", (
                f"{name} imports {target}: the core reaches plugins and frameworks only through the registry")


def test_the_listed_upward_imports_exist():
    """A stale exception would hide a new one: every listed upward reach is still made."""
    made = {(name, target) for name, path in modules() for target, _ in imports(path)}
    assert UPWARD <= made, UPWARD - made
