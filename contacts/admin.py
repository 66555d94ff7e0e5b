"""contacts admin."""
