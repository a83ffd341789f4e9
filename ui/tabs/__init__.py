"""One module per tab; each has ID and build(ctx, tab)."""
