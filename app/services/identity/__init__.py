"""Who is calling and what they may do: widget sign-in through Zoho, sessions, the audience
and Administrator checks, single-use authorize links bound to the browser that uses them.

Modules: `signin` (Zoho proves the user), `sessions` (signed, expiring tokens), `audience`
(membership, re-checked every few minutes), `callers` (session or API key → a Caller),
`links` (authorize links), `state` and `browser` (OAuth state and its browser binding).
"""
