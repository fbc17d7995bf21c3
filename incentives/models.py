"""Models of the incentives app (see DESIGN.md)."""
