from tests.engine.fixtures import (config_file, config_module, pvsync_env, state_dir,  # noqa: F401
                                   sync_job_stand_ins)
