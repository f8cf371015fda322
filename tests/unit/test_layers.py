"""The one-way layers of DESIGN.md, checked on every import statement in the package."""

from __future__ import annotations

import ast
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
DEFINITION_LEVEL = {"tradewind", "tradewind.states"}


def _imports(path: Path) -> list[tuple[int, str]]:
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append((node.lineno, node.module))
    return out


def _layer(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] == "tradewind" and len(parts) > 1 and parts[1] in LAYERS:
        return parts[1]
    return None


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


def _side_violations(package: Path) -> list[str]:
    """Imports of tradewind modules a side package (integrations, compat) may not use."""
    violations = []
    for path in sorted(package.rglob("*.py")):
        own = path.relative_to(package).parts[0]
        allowed = SIDE_PACKAGES.get(own)
        if allowed is None:
            continue
        for lineno, module in _imports(path):
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
    (tmp_path / "integrations" / "postgres").mkdir(parents=True)
    (tmp_path / "integrations" / "postgres" / "hooks.py").write_text(
        "import tradewind.definition.hooks\nfrom tradewind.persist.db import Database\nimport tradewind.config\n",
        encoding="utf-8",
    )
    (tmp_path / "compat").mkdir()
    (tmp_path / "compat" / "shim.py").write_text(
        "from tradewind.integrations.http import hooks\nfrom tradewind.execute import runner\n", encoding="utf-8"
    )
    assert _side_violations(tmp_path) == [
        "compat/shim.py:2: compat imports tradewind.execute",
        "integrations/postgres/hooks.py:2: integrations imports tradewind.persist.db",
        "integrations/postgres/hooks.py:3: integrations imports tradewind.config",
    ]


def test_the_check_sees_a_violation(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("from tradewind.observe.cli import main\n", encoding="utf-8")
    assert [_layer(m) for _, m in _imports(bad)] == ["observe"]
