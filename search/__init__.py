"""Search: the full-text product index (and, later, the image model and vector index)."""
