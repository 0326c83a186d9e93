"""The project files a DVC stage's code can run: the transitive imports of its stage module.

Every ``import`` statement counts, at module level or inside a function (a lazy import still runs
when the stage does). The one dynamic import, :func:`models.registry.get_spec` loading
``models/<name>.py``, counts as the stage's model for a per-model stage and as every model of the
zoo for any other stage that imports the registry. A package ``__init__.py`` that holds only a
docstring cannot change a result and is left out.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("fer_data", "features", "models", "reports", "pipeline")
REGISTRY = "models.registry"


def module_file(module: str) -> Path | None:
    """The file of a project module (``a.b`` -> a/b.py or a/b/__init__.py); None if not ours."""
    if module.split(".")[0] not in PACKAGES:
        return None
    base = REPO_ROOT.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.exists():
            return candidate
    return None


def _imported(path: Path) -> set[str]:
    """Project modules that ``path`` imports (``from pkg import sub`` names the submodule)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    # Importing a.b.c runs a/__init__.py and a/b/__init__.py too.
    parents = {".".join(m.split(".")[:i]) for m in found for i in range(1, m.count(".") + 1)}
    return {m for m in found | parents if module_file(m) is not None}


def _has_code(path: Path) -> bool:
    body = ast.parse(path.read_text(encoding="utf-8")).body
    docstring = (
        body[:1] and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
    )
    return len(body) > (1 if docstring else 0)


def closure(module: str, models: tuple[str, ...]) -> set[Path]:
    """Files (relative to the repository root) that ``module`` runs, transitively.

    ``models``: the zoo modules the registry may load for this stage (see the module docstring).
    """
    seen: set[str] = set()
    todo = [module]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        path = module_file(name)
        if path is None:
            continue
        todo.extend(_imported(path))
        if name == REGISTRY:
            todo.extend(f"models.{m}" for m in models)
    files = {module_file(m) for m in seen} - {None}
    return {
        p.relative_to(REPO_ROOT)
        for p in files
        if p is not None and (p.name != "__init__.py" or _has_code(p))
    }
