"""Channel types: one module per way Herald reaches a person (channels/base.py explains)."""
