"""Hybrid search: language-aware BM25 (Whoosh) + vectors (FAISS), fused, permission-filtered.

Modules: analysis (analyzers), query (user text -> safe query), records/filters (what indexes
know, who may see it), fulltext (Whoosh), vectors (FAISS), fusion (pure scoring), sync (change
log -> indexes), hybrid (SearchEngine).
"""
