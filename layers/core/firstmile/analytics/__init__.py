"""Onboarding analytics: funnels kept exact at write time from the table's change stream, read at the same cost
whatever the number of users (decision 0070)."""
