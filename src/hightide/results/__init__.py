"""Recording, tables, the output store and validation against the record."""
