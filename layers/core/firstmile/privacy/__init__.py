"""Privacy and data rights: the registry of stored data, consent, and the data subject rights (issue 13)."""
