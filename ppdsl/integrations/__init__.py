"""Adapters that register ppdsl with other tools (textX)."""
