"""Small query functions, one module per resource; the session is always passed in.

None of these functions commits: the caller owns the transaction
(``with db.session_scope() as session: ...``).
"""
