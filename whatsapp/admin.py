"""whatsapp admin."""
