"""Identity: tenants, API clients, sessions (refresh-token families), access tokens, signing keys, revocation."""
