"""whatsapp models."""
