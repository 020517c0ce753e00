"""Backups of the table and the restore drills that prove them (issue 15, decision 0104)."""
