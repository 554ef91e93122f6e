"""Getting the reviews: the archive, its download, the reviews table, tokens and prepared splits."""
