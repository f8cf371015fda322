"""axe-core for the browser tests: fetched at test time, never committed.

:func:`axe_source` downloads the pinned axe-core release from the npm registry once into
``~/.cache/tradewind-test/`` (``TRADEWIND_TEST_CACHE`` names another directory), checks the
tarball's sha256 and keeps ``axe.min.js``. :func:`axe_violations` injects it into a page and
returns the violations of the impacts asked for.

The UI's Content-Security-Policy allows only the server's own scripts: an inline
``<script>`` (``page.add_script_tag(content=...)``) is refused. axe is evaluated through the
DevTools protocol instead (``page.evaluate``), which the page's CSP does not govern, so the
same page load keeps its CSP enforced for the other checks (a context with ``bypass_csp=True``
would hide the page's own CSP violations and need a second load).
"""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
from pathlib import Path
from typing import Any

import httpx

AXE_VERSION = "4.10.3"
AXE_URL = f"https://registry.npmjs.org/axe-core/-/axe-core-{AXE_VERSION}.tgz"
AXE_SHA256 = "0f2b4d7dcdf7d1219df8d1959ad68e565f51d14c3f0d88bb71cd59abeb956292"
#: The impacts that fail a page.
BLOCKING = ("serious", "critical")


def cache_dir() -> Path:
    return Path(os.environ.get("TRADEWIND_TEST_CACHE") or Path.home() / ".cache" / "tradewind-test")


def axe_source() -> str:
    """The text of ``axe.min.js`` of :data:`AXE_VERSION` (downloaded and verified on first use).

    Raises ``RuntimeError`` when it cannot be downloaded or the download is not the pinned one.
    """
    target = cache_dir() / f"axe-core-{AXE_VERSION}.min.js"
    if target.exists():
        return target.read_text(encoding="utf-8")
    try:
        response = httpx.get(AXE_URL, timeout=60, follow_redirects=True)
        response.raise_for_status()
    except httpx.HTTPError as exc:
        raise RuntimeError(f"cannot download axe-core from {AXE_URL}: {exc}") from exc
    digest = hashlib.sha256(response.content).hexdigest()
    if digest != AXE_SHA256:
        raise RuntimeError(f"{AXE_URL} has sha256 {digest}, expected {AXE_SHA256}")
    with tarfile.open(fileobj=io.BytesIO(response.content), mode="r:gz") as archive:
        member = archive.extractfile("package/axe.min.js")
        assert member is not None, "axe.min.js missing from the axe-core tarball"
        source = member.read().decode("utf-8")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".part")
    partial.write_text(source, encoding="utf-8")
    partial.replace(target)
    return source


def axe_violations(page: Any, source: str, impacts: tuple[str, ...] = BLOCKING) -> list[dict[str, Any]]:
    """Run axe on ``page`` (WCAG 2.x A/AA rules) and return its violations of ``impacts``:
    ``{"id", "impact", "help", "targets": [css selector, ...]}``, sorted by rule."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(source + "\n;undefined")
    found = page.evaluate("""async () => {
        const result = await window.axe.run(document, {
            runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]},
            resultTypes: ["violations"],
        });
        return result.violations.map((v) => ({
            id: v.id, impact: v.impact, help: v.help,
            targets: v.nodes.slice(0, 5).map((n) => n.target.join(" ")),
        }));
    }""")
    return sorted((v for v in found if v["impact"] in impacts), key=lambda v: v["id"])


def describe(violations: list[dict[str, Any]]) -> str:
    return "; ".join(f"{v['id']} ({v['impact']}: {v['help']}) at {', '.join(v['targets'])}" for v in violations)
