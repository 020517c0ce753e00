"""Rate limits: fixed-window counters per tenant, caller and route class, kept in the main table."""
