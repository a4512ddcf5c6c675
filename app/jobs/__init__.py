"""Background work run by `gocardless-zoho worker` (which `serve` starts unless --no-worker)."""
