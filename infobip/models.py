"""infobip models."""
