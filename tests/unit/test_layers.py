"""The one-way layers of DESIGN.md, checked on every import statement in the package."""

from __future__ import annotations

import ast
from pathlib import Path

import tradewind

LAYERS = ["definition", "parse", "persist", "schedule", "execute", "observe", "testing"]
PACKAGE = Path(tradewind.__file__).parent


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


def test_the_check_sees_a_violation(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("from tradewind.observe.cli import main\n", encoding="utf-8")
    assert [_layer(m) for _, m in _imports(bad)] == ["observe"]
