"""Developer tools that check the project's own structure (stdlib only; nothing here is used at run time)."""
