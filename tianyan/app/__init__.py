"""The composition root: wires configuration, database and domains into running processes."""
