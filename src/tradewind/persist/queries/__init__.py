"""Small query functions, one module per resource; the session is always passed in.

None of these functions commits: the caller owns the transaction
(``with db.session_scope() as session: ...``).
"""

from collections.abc import Iterable, Iterator
from typing import Any

#: Values per ``IN (...)`` list, well below SQLite's and PostgreSQL's bound-parameter limits.
IN_CHUNK = 500


def in_chunks(values: Iterable[Any]) -> Iterator[list[Any]]:
    """The distinct ``values``, sorted, in lists of at most :data:`IN_CHUNK` (one ``IN`` each)."""
    distinct = sorted(set(values))
    for start in range(0, len(distinct), IN_CHUNK):
        yield distinct[start:start + IN_CHUNK]
