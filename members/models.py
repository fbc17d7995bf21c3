"""Models of the members app (see DESIGN.md)."""
