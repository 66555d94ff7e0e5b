"""infobip admin."""
