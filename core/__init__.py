"""pvsync's headless core: everything that runs without a screen.

Nothing under core/ may import Textual or Rich, so the engine runs the same in the
console, in the daemon and in tests (tests/test_core_headless.py enforces it).
"""

import sys as _sys

# httpx imports its command-line client (click, pygments, rich) whenever those happen to be
# installed, and here they always are (sqlite-utils brings click, textual brings rich). The
# core never uses that client, so it is marked absent: httpx then skips it, and a headless
# process loads no terminal-rendering library at all.
_sys.modules.setdefault("httpx._main", None)
