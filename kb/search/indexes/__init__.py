"""The derived indexes, each behind one interface (:class:`store.IndexStore`: load, catch up,
rebuild, state, close) and kept in step with the database through the change log.

fulltext (Whoosh: phrases, spelling) with whooshstore (its generations on disk), sparse (BM25
over a term matrix) with sparsestore, vectors (FAISS backends) with vectorstore, changelog
(log positions, reading the database), locks (one writer), snapshots (in-memory indexes kept
on disk for the next process start).
"""
