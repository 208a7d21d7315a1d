"""`python -m tests.engine.stand_in_pvsync ARGS`: the pvsync command with the stand-in jobs registered.

Everything else is the real command, the real config loader included; only the three
sync jobs are stand-ins, for the daemon tests that need jobs without services.
"""

import sys

from tests.engine import stand_in_jobs

stand_in_jobs.install()

from core.cli import main  # noqa: E402

sys.exit(main(sys.argv[1:]))
