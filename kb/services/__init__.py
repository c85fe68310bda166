"""Domain services: plain functions taking a Session.

They validate, check permissions (raising kb.errors exceptions), write content together with
its chunks and change-log rows, and flush, but never commit: the caller owns the transaction
(``with kb.db.transaction(factory) as session: ...``), so a failure leaves nothing half-written.
"""
