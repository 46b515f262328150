"""Stage 2, fetch: bounded, polite HTTP (robots.txt, per-host limits, retries, private-address guard).

`fetcher.Fetcher` is the entry point (`background.BackgroundFetcher` runs one for synchronous callers). It
combines `http` (the bounded client: redirects, deadline, size cap, connections pinned to checked addresses),
`body` (content types, bounded decoding, binary sniffing), `address_guard` (private and special-purpose
addresses refused), `politeness` (per-host spacing, concurrency, backing off), `robots` (robots.txt rules) and
`retry` (the retry policy, Retry-After). Every failure is an `errors.FetchError`.
"""
