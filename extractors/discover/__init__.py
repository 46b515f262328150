"""Stage 1, discover: canonical URLs and article ids, RSS/Atom feeds, sitemaps and their conditional-GET state."""
