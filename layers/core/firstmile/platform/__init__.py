"""What every domain shares underneath: the table, AWS clients, versioned writes."""
