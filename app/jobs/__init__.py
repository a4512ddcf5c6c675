"""Background work run by `gocardless-zoho worker` (and inside `serve` unless --no-worker)."""
