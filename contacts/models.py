"""contacts models."""
