"""`pvsync demo`: the built-in simulated world the console runs on."""
