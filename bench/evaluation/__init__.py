"""Retrieval and matching evaluation on public, human-labelled sets."""
