"""The Textual console over pvsync's core engine."""
