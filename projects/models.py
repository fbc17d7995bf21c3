"""Models of the projects app (see DESIGN.md)."""
