"""Models of the demands app (see DESIGN.md)."""
