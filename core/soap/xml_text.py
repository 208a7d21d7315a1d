"""What XML 1.0 cannot carry as text: both services answer and store SOAP, so a value holding
one of these characters can be neither sent nor read back by any client of theirs."""

from __future__ import annotations

import re

# Control characters other than tab, line feed and carriage return, and the two non-characters.
NOT_IN_XML_CHARS = "\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff"
NOT_IN_XML = re.compile(f"[{NOT_IN_XML_CHARS}]")
