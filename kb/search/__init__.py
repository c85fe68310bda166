"""Hybrid search: language-aware BM25 + vectors (FAISS), fused, permission-filtered.

The query side lives here: analysis (analyzers), query (user text -> safe query), records and
filters (what indexes know, who may see it), fusion and ranking (pure scoring), snippets, and
hybrid (``SearchEngine``, which asks the indexes and puts the answer together). The derived
indexes and what keeps them in step with the database are in :mod:`kb.search.indexes`.
"""
