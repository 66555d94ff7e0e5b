"""campaigns admin."""
