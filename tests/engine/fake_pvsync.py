"""`python -m tests.engine.fake_pvsync ARGS`: the pvsync command with the fake config installed."""

import sys

from tests.engine import fake_config, stand_in_jobs

fake_config.install()
stand_in_jobs.install()

from core.cli import main  # noqa: E402

sys.exit(main(sys.argv[1:]))
