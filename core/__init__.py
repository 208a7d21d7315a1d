"""pvsync's headless core: everything that runs without a screen.

Nothing under core/ may import Textual or Rich, so the engine runs the same in the
console, in the daemon and in tests (tests/test_core_headless.py enforces it).
"""
