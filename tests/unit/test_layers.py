"""The one-way layers of DESIGN.md, checked on every import statement in the package.

Every check reads imports the same way (:func:`_imports`): ``import x``, ``from x import y``
(``y`` counts as the module ``x.y`` when it is one), relative imports resolved against the
importing module's package, and ``importlib.import_module("...")`` / ``__import__("...")``
calls with a literal name — at module level and inside functions alike. Only imports under
``if TYPE_CHECKING:`` are left out: they never run.

On top of the layer order, the worker side of ``execute`` (DESIGN.md, "The worker side stands
alone") must reach nothing of persist, schedule or SQLAlchemy: checked over the transitive
closure of its imports (:func:`worker_side_violations`), and in a real interpreter.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections import deque
from pathlib import Path

import tradewind

LAYERS = ["definition", "parse", "persist", "schedule", "execute", "observe", "testing"]
PACKAGE = Path(tradewind.__file__).parent
# Side packages outside the chain: what each may import from tradewind. The top-level `tradewind` facade and
# `tradewind.states` re-export definition-level names only, so they count as definition.
SIDE_PACKAGES = {
    "integrations": {"definition", "integrations"},
    "compat": {"definition", "integrations", "compat"},
}
#: Single files allowed one more import, each for a reason that belongs to the file alone.
#: ``airflow.configuration.conf`` is a process-wide settings object by Airflow's own design (DAG files
#: call ``conf.get(...)`` at parse time); the shim that stands in for it reads Tradewind's settings lazily.
SIDE_FILE_EXTRAS = {"compat/airflow_config.py": {"config"}}
DEFINITION_LEVEL = {"tradewind", "tradewind.states"}
#: Shared contracts below every layer: any layer may import them, and they import no layer.
SHARED_CONTRACTS = ("states", "workloads")

#: What runs one try on a worker (DESIGN.md): these modules and everything they import, at any
#: depth, must not reach the database side. ``execute.email`` and ``execute.dagrun_trigger`` are
#: reached from the runner anyway; naming them keeps them on the list if that changes.
WORKER_SIDE = (
    "tradewind.workloads",
    "tradewind.execute.runner",
    "tradewind.execute.try_store",
    "tradewind.execute.api_client",
    "tradewind.execute.runtime",
    "tradewind.execute.logs",
    "tradewind.execute.heartbeat",
    "tradewind.execute.remote",
    "tradewind.execute.prepare",
    "tradewind.execute.log_shipping",
    "tradewind.execute.alarm",
    "tradewind.execute.dagrun_trigger",
    "tradewind.execute.email",
)
#: Module prefixes the worker side may not import.
SERVER_SIDE = ("sqlalchemy", "tradewind.persist", "tradewind.schedule")


# --------------------------------------------------------------------------- reading imports
def _module_name(path: Path, package: Path) -> str:
    """``tradewind.execute.runner`` for ``<package>/execute/runner.py`` (``package`` is the
    ``tradewind`` folder, or a planted copy of one)."""
    parts = list(path.relative_to(package).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join([package.name, *parts])


def _module_file(name: str, package: Path) -> Path | None:
    """The file of module ``name`` inside ``package`` (None: not one of ours, or no such module)."""
    parts = name.split(".")
    if parts[0] != package.name:
        return None
    base = package.joinpath(*parts[1:])
    for candidate in (base / "__init__.py", base.with_suffix(".py")):
        if candidate.is_file():
            return candidate
    return None


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _resolve_relative(name: str, level: int, current: str, is_package: bool) -> str:
    """``from ..x import y`` in ``current``: the absolute module ``..x`` stands for."""
    parts = current.split(".")
    base = parts if is_package else parts[:-1]
    if level > 1:
        base = base[: len(base) - (level - 1)]
    return ".".join([*base, name] if name else base)


def _literal_import_call(node: ast.Call) -> tuple[str, str | None] | None:
    """``importlib.import_module("x", "pkg")``, ``import_module("x")``, ``__import__("x")``:
    the literal name (and package); None for any other call or a computed name."""
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None
    if name not in ("import_module", "__import__") or not node.args:
        return None
    first = node.args[0]
    if not isinstance(first, ast.Constant) or not isinstance(first.value, str):
        return None
    package = None
    rest = node.args[1:] if name == "import_module" else []
    rest_kw = [k.value for k in node.keywords if k.arg == "package"]
    for value in [*rest, *rest_kw]:
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            package = value.value
    return first.value, package


class _ImportCollector(ast.NodeVisitor):
    def __init__(self, current: str, is_package: bool, package: Path) -> None:
        self.current = current
        self.is_package = is_package
        self.package = package
        self.found: list[tuple[int, str]] = []

    def visit_If(self, node: ast.If) -> None:
        if _is_type_checking(node.test):
            for child in node.orelse:  # the else branch of `if TYPE_CHECKING:` does run
                self.visit(child)
            return
        self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        self.found.extend((node.lineno, alias.name) for alias in node.names)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        base = node.module or ""
        if node.level:
            base = _resolve_relative(base, node.level, self.current, self.is_package)
        self.found.append((node.lineno, base))
        for alias in node.names:  # `from tradewind import persist`: the submodule is imported
            sub = f"{base}.{alias.name}"
            if alias.name != "*" and _module_file(sub, self.package) is not None:
                self.found.append((node.lineno, sub))

    def visit_Call(self, node: ast.Call) -> None:
        literal = _literal_import_call(node)
        if literal is not None:
            name, package = literal
            if name.startswith("."):
                level = len(name) - len(name.lstrip("."))
                anchor = package or self.current
                name = _resolve_relative(name[level:], level, anchor, package is not None or self.is_package)
            self.found.append((node.lineno, name))
        self.generic_visit(node)


def _imports(path: Path, package: Path = PACKAGE) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in ``path`` that can run (see the docstring)."""
    collector = _ImportCollector(_module_name(path, package), path.name == "__init__.py", package)
    collector.visit(ast.parse(path.read_text(encoding="utf-8")))
    return collector.found


def _layer(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] == "tradewind" and len(parts) > 1 and parts[1] in LAYERS:
        return parts[1]
    return None


# --------------------------------------------------------------------------- the layer order
def test_no_layer_imports_a_later_layer():
    violations = []
    for path in sorted(PACKAGE.rglob("*.py")):
        own = path.relative_to(PACKAGE).parts[0]
        if own not in LAYERS:
            continue
        for lineno, module in _imports(path):
            target = _layer(module)
            if target and LAYERS.index(target) > LAYERS.index(own):
                violations.append(f"{path.relative_to(PACKAGE)}:{lineno}: {own} imports {module}")
    assert violations == [], "imports against the layer order:\n" + "\n".join(violations)


def test_shared_contracts_import_no_layer():
    violations = [f"{name}.py:{lineno}: imports {module}"
                  for name in SHARED_CONTRACTS
                  for lineno, module in _imports(PACKAGE / f"{name}.py")
                  if module.split(".")[0] == "tradewind"]
    assert violations == [], "tradewind.states and tradewind.workloads sit below every layer:\n" + "\n".join(violations)


def _side_violations(package: Path) -> list[str]:
    """Imports of tradewind modules a side package (integrations, compat) may not use."""
    violations = []
    for path in sorted(package.rglob("*.py")):
        own = path.relative_to(package).parts[0]
        allowed = SIDE_PACKAGES.get(own)
        if allowed is None:
            continue
        allowed = allowed | SIDE_FILE_EXTRAS.get(path.relative_to(package).as_posix(), set())
        for lineno, module in _imports(path, package):
            parts = module.split(".")
            if parts[0] != "tradewind" or module in DEFINITION_LEVEL and "definition" in allowed:
                continue
            if len(parts) < 2 or parts[1] not in allowed:
                violations.append(f"{path.relative_to(package)}:{lineno}: {own} imports {module}")
    return violations


def test_side_packages_import_only_what_they_may():
    violations = _side_violations(PACKAGE)
    assert violations == [], "integrations may import definition only; compat definition and integrations:\n" + (
        "\n".join(violations)
    )


def test_the_side_check_sees_a_violation(tmp_path):
    root = tmp_path / "tradewind"
    (root / "integrations" / "postgres").mkdir(parents=True)
    (root / "integrations" / "postgres" / "hooks.py").write_text(
        "import tradewind.definition.hooks\nfrom tradewind.persist.db import Database\nimport tradewind.config\n",
        encoding="utf-8",
    )
    (root / "compat").mkdir()
    (root / "compat" / "shim.py").write_text(
        "from tradewind.integrations.http import hooks\nfrom tradewind.execute import runner\n", encoding="utf-8"
    )
    assert _side_violations(root) == [
        "compat/shim.py:2: compat imports tradewind.execute",
        "integrations/postgres/hooks.py:2: integrations imports tradewind.persist.db",
        "integrations/postgres/hooks.py:3: integrations imports tradewind.config",
    ]


def test_the_check_sees_a_violation(tmp_path):
    bad = tmp_path / "tradewind" / "definition" / "bad.py"
    bad.parent.mkdir(parents=True)
    (bad.parent / "__init__.py").write_text("", encoding="utf-8")
    bad.write_text("from tradewind.observe.cli import main\n", encoding="utf-8")
    assert [_layer(m) for _, m in _imports(bad, tmp_path / "tradewind")] == ["observe"]


# --------------------------------------------------------------------------- the worker side
def _forbidden(module: str) -> bool:
    return any(module == prefix or module.startswith(prefix + ".") for prefix in SERVER_SIDE)


def _with_parents(module: str) -> list[str]:
    """Importing ``a.b.c`` runs ``a``, ``a.b`` and ``a.b.c``."""
    parts = module.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


def worker_side_violations(package: Path, roots: tuple[str, ...] | list[str]) -> list[str]:
    """Every import of a server-side module (:data:`SERVER_SIDE`) that ``roots`` reach.

    Follows imports through the modules of ``package`` breadth first (module level and inside
    functions alike; third-party packages are not followed, only named). Each violation reads
    ``root -> ... -> module:line imports forbidden``: the shortest chain that reaches it.
    """
    parent: dict[str, tuple[str, int] | None] = {}
    queue: deque[str] = deque()
    for root in roots:
        for name in _with_parents(root):
            if name not in parent:
                parent[name] = None if name == root else (root, 0)
                queue.append(name)
    violations = []
    while queue:
        current = queue.popleft()
        path = _module_file(current, package)
        if path is None:
            if _module_file(current.rsplit(".", 1)[0], package) is None and current.split(".")[0] == package.name:
                violations.append(f"{_chain(parent, current)}: no such module")
            continue
        for lineno, target in _imports(path, package):
            if _forbidden(target):
                violations.append(f"{_chain(parent, current)}:{lineno} imports {target}")
                continue
            for name in _with_parents(target):
                if name.split(".")[0] == package.name and name not in parent:
                    parent[name] = (current, lineno)
                    queue.append(name)
    return violations


def _chain(parent: dict[str, tuple[str, int] | None], module: str) -> str:
    steps = [module]
    link = parent.get(module)
    while link is not None:
        above, lineno = link
        steps.append(f"{above}:{lineno}" if lineno else above)
        link = parent.get(above)
    return " -> ".join(reversed(steps))


def test_the_worker_side_reaches_no_database_code():
    violations = worker_side_violations(PACKAGE, WORKER_SIDE)
    assert violations == [], (
        "the worker side (runner, TryStore, API client, runtime, ...) must not reach persist, schedule or "
        "SQLAlchemy, at module level or in a function:\n" + "\n".join(violations))


def test_the_worker_side_imports_without_database_code_in_a_real_interpreter():
    """The same in a fresh interpreter: importing every worker-side module loads none of it."""
    code = (
        "import importlib, sys\n"
        f"for name in {list(WORKER_SIDE)!r}:\n"
        "    importlib.import_module(name)\n"
        f"bad = sorted(m for m in sys.modules if m.startswith({SERVER_SIDE!r}))\n"
        "assert not bad, bad\n"
        "print(len([m for m in sys.modules if m.startswith('tradewind')]))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) >= len(WORKER_SIDE)


def test_the_worker_side_check_sees_every_kind_of_import(tmp_path):
    """Planted violations, one per import form, found through the same function the real check runs."""
    root = tmp_path / "tradewind"
    files = {
        "__init__.py": "",
        "states.py": "",
        "execute/__init__.py": "",
        # the root: a relative import of a sibling and a function-level import
        "execute/runner.py": (
            "from . import helpers\n"
            "from .prepare import load\n"
            "from typing import TYPE_CHECKING\n"
            "if TYPE_CHECKING:\n"
            "    from tradewind.persist.models import TaskInstance  # never runs: not a violation\n"
            "else:\n"
            "    import tradewind.states\n"
            "def main():\n"
            "    from tradewind.execute import local\n"
            "    return local\n"
        ),
        # importlib with a literal name, inside a function
        "execute/helpers.py": (
            "import importlib\n"
            "def store():\n"
            "    return importlib.import_module('tradewind.persist.db')\n"
        ),
        # `from tradewind import X` names a submodule; __import__; a two-level relative import
        "execute/prepare.py": (
            "def load():\n"
            "    from tradewind import schedule\n"
            "    return __import__('sqlalchemy.orm')\n"
            "from ..persist import queries\n"
        ),
        # relative import_module with a package argument, two modules away from the root
        "execute/local.py": "from .deep import x\n",
        "execute/deep.py": "import importlib\nx = importlib.import_module('.transitions', 'tradewind.schedule')\n",
        "persist/__init__.py": "",
        "persist/queries.py": "",
        "persist/db.py": "",
        "schedule/__init__.py": "",
        "schedule/transitions.py": "",
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")

    found = worker_side_violations(root, ["tradewind.execute.runner"])

    assert sorted(found) == sorted([
        "tradewind.execute.runner:1 -> tradewind.execute.helpers:3 imports tradewind.persist.db",
        "tradewind.execute.runner:2 -> tradewind.execute.prepare:2 imports tradewind.schedule",
        "tradewind.execute.runner:2 -> tradewind.execute.prepare:3 imports sqlalchemy.orm",
        "tradewind.execute.runner:2 -> tradewind.execute.prepare:4 imports tradewind.persist",
        "tradewind.execute.runner:2 -> tradewind.execute.prepare:4 imports tradewind.persist.queries",
        "tradewind.execute.runner:9 -> tradewind.execute.local:1 -> tradewind.execute.deep:2 imports "
        "tradewind.schedule.transitions",
    ])
    # The real roots, planted in the same tree, show the check is not vacuous there either.
    assert worker_side_violations(root, ["tradewind.states"]) == []
