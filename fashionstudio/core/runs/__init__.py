"""Training runs as the Train tab sees them, without Qt: this package's interface (the modules each do one job)."""

from fashionstudio.core.run_folder import CONFIG_FILE, CONSOLE_FILE, DEFAULT_MODEL_FILE  # noqa: F401
from fashionstudio.core.runs.decimation import GrowArray, MinMaxPyramid, decimate_minmax  # noqa: F401
from fashionstudio.core.runs.discovery import (  # noqa: F401
    checkpoint_files, default_runs_dir, discover_runs, is_run_dir, read_run_config,
)
from fashionstudio.core.runs.event_log import LogDelta, RunLog, parse_events  # noqa: F401
from fashionstudio.core.runs.new_run import (  # noqa: F401
    DATA_KIND_LABELS, DEVICES, PRESETS, RunSetupError, RunSpec, create_run, form_values, preset_defaults,
    trainable_families, validate_run_spec,
)
from fashionstudio.core.runs.series import Series  # noqa: F401
from fashionstudio.core.runs.smoothing import EmaState, ema_smooth  # noqa: F401
from fashionstudio.core.runs.state import (  # noqa: F401
    STALE_AFTER_S, STATES, RunSummary, copied_from, infer_state, summarize_run,
)
