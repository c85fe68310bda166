"""Import pipeline: read -> validate -> chunk -> embed -> store."""
