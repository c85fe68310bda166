"""Tandem knowledge base: storage, indexes and search for reverse-mentoring knowledge."""
