"""Stage 2, fetch: bounded, polite HTTP (robots.txt, per-host limits, retries, private-address guard)."""
