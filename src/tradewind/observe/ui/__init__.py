"""The web UI: server-rendered pages with small scripts of our own, all served from the package.

Pages are Jinja2 templates (autoescaped) extending ``templates/base.html``; their data comes
from the REST API (``/api/v1``, called with the session cookie and the CSRF header by
``static/core.js``) or from the UI's own JSON endpoints under ``/ui/data/`` where a view needs
a shape the REST API does not have (the grid). Scripts are files under ``static/`` — the
Content-Security-Policy forbids inline script — and build the DOM with ``textContent``, never
``innerHTML``, so nothing a DAG author or a log line writes can run in the browser.
"""
