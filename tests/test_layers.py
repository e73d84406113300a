"""The library's two layers: the science core imports nothing of the compendium (chapters,
caches, sweeps, Dask, notebooks), and the compendium's generic modules nothing of the studies."""
import ast
from pathlib import Path

import pytest

LIB = Path(__file__).resolve().parents[1] / "lib" / "rexbench"
CORE = ["explain", "metrics", "models", "data", "training.py", "io.py"]
FORBIDDEN_IN_CORE = ("rexbench.compendium", "distributed", "dask", "papermill", "myst_nb", "IPython")


def _imports(path: Path) -> set[str]:
    """Absolute names a module imports (relative imports resolved against its package)."""
    tree = ast.parse(path.read_text())
    package = ["rexbench", *path.relative_to(LIB).parent.parts]
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            mod = ".".join([*base, *(node.module.split(".") if node.module else [])])
            names.add(mod)
            names.update(f"{mod}.{a.name}" for a in node.names)
    return names


def _files(parts):
    for part in parts:
        p = LIB / part
        yield from (sorted(p.rglob("*.py")) if p.is_dir() else [p])


@pytest.mark.parametrize("path", list(_files(CORE)), ids=lambda p: str(p.relative_to(LIB)))
def test_core_knows_nothing_of_the_compendium(path):
    bad = sorted(n for n in _imports(path) if n.startswith(FORBIDDEN_IN_CORE))
    assert not bad, f"{path.relative_to(LIB)} imports {bad}"


@pytest.mark.parametrize("path", [p for p in _files(["compendium"]) if "studies" not in p.parts],
                         ids=lambda p: str(p.relative_to(LIB)))
def test_generic_compendium_modules_do_not_import_studies(path):
    bad = sorted(n for n in _imports(path) if n.startswith("rexbench.compendium.studies"))
    assert not bad, f"{path.relative_to(LIB)} imports {bad}"


def test_the_data_registry_ships_with_the_package():
    """The registry is read next to the module (not from the repository), and the build
    declares it as package data, so a wheel carries it."""
    import tomllib

    from rexbench.data.registry import REGISTRY_FILE, load_registry

    assert REGISTRY_FILE.parent == LIB / "data" and load_registry()
    pyproject = tomllib.loads((LIB.parents[1] / "pyproject.toml").read_text())
    assert REGISTRY_FILE.name in pyproject["tool"]["setuptools"]["package-data"]["rexbench.data"]
