"""The console's screens: one per mode, plus the modals they open."""
