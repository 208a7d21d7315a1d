"""`python -m tests.engine.fake_pvsync ARGS`: the pvsync command with the fake config installed."""

import sys

from tests.engine import fake_config

fake_config.install()

from core.cli import main  # noqa: E402

sys.exit(main(sys.argv[1:]))
