"""Models of the notifications app (see DESIGN.md)."""
