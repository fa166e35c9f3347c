"""Property-based fuzzing of what the app and the trainer read from a run folder: events lines and config tables.

Whatever a copied-in run folder holds, the events reader returns only events that fit the schema and never
raises, the Train tab's run log absorbs them, and a config table is either a valid config or a ConfigError.
"""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from fashionstudio.core.runs import RunLog, parse_events
from fashionstudio.core.run_folder import KINDS, read_events, validate_event
from training.config import ConfigError, config_from_dict

FUZZ = settings(deadline=None, max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])

scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(allow_nan=True),
                    st.text(max_size=12), st.sampled_from(["nan", "inf", "-inf", "abc", "../x.png", "samples/a.png"]))
json_values = st.recursive(scalars, lambda kids: st.one_of(st.lists(kids, max_size=4),
                                                           st.dictionaries(st.text(max_size=8), kids, max_size=4)),
                           max_leaves=12)
keys = st.sampled_from(["time", "kind", "step", "status", "values", "path", "rows", "best", "message", "error",
                        "notes", "total_steps", "checkpoint", "monitor", "split"])
event_like = st.dictionaries(keys, st.one_of(json_values, st.sampled_from(list(KINDS) + ["started", "stopped"])),
                             max_size=8)


def _check_schema(ev: dict) -> None:
    assert ev["kind"] in KINDS
    assert isinstance(ev["step"], int) and not isinstance(ev["step"], bool) and ev["step"] >= 0
    if "time" in ev:
        assert isinstance(ev["time"], (int, float)) and math.isfinite(ev["time"])
    if ev["kind"] in ("scalars", "metrics"):
        assert isinstance(ev["values"], dict)
    if ev["kind"] == "sample":
        assert isinstance(ev["path"], str) and ".." not in ev["path"] and all(isinstance(r, str) for r in ev["rows"])


@FUZZ
@given(st.lists(st.one_of(event_like.map(lambda d: json.dumps(d).encode()),
                          st.binary(max_size=64), json_values.map(lambda v: json.dumps(v).encode())),
                max_size=12))
def test_events_reader_returns_only_schema_events_and_never_raises(tmp_path, lines):
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"\n".join(line.replace(b"\n", b" ") for line in lines) + b"\n")
    stats: dict[str, int] = {}
    events, offset = read_events(path, 0, max_bytes=256, stats=stats)
    while offset < path.stat().st_size:
        more, new = read_events(path, offset, max_bytes=256, stats=stats)
        assert new > offset
        events, offset = events + more, new
    for ev in events:
        _check_schema(ev)
    log = RunLog(tmp_path)
    log.apply(parse_events(events, offset, False))  # the Train tab's bookkeeping takes every one of them
    assert log.n_events == len(events)


@FUZZ
@given(event_like)
def test_validate_event_is_idempotent(raw):
    ev = validate_event(raw)
    if ev is not None:
        _check_schema(ev)
        assert validate_event(ev) == ev


toml_scalars = st.one_of(st.booleans(), st.integers(-2**40, 2**40), st.floats(allow_nan=True), st.text(max_size=8))
toml_values = st.recursive(toml_scalars, lambda kids: st.one_of(st.lists(kids, max_size=3),
                                                                st.dictionaries(st.text(max_size=6), kids, max_size=3)),
                           max_leaves=8)
config_keys = st.sampled_from(["seed", "device", "precision", "steps", "batch_size", "resolution", "plugins", "arch",
                               "data", "optim", "loss", "schedules", "log", "init", "channels_last"])
section = st.dictionaries(st.sampled_from(["size", "workers", "kind", "path", "lr", "betas", "lr_schedule",
                                           "ema_half_life", "log_every", "keep_last", "sample_every",
                                           "plateau_factor"]), toml_values, max_size=3)


@FUZZ
@given(st.dictionaries(config_keys, st.one_of(toml_values, section), max_size=5))
def test_config_tables_are_valid_or_a_config_error(table):
    try:
        cfg = config_from_dict({"family": "cyclegan", "preset": "demo", **table})
    except ConfigError as exc:
        assert str(exc)
        return
    assert 0 <= cfg.seed and cfg.steps > 0 and all(math.isfinite(v) and v > 0 for v in cfg.optim.lr.values())


numbers = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-2**70, 2**70))


@pytest.mark.parametrize("where", [("optim", "lr"), ("optim", "ema_half_life"), ("optim", "plateau_factor"),
                                   (None, "seed"), ("data", "size"), (None, "steps"), ("schedules", "lambda_cycle")])
@settings(deadline=None, max_examples=40)
@given(value=numbers)
@example(value=math.inf)
@example(value=-math.inf)
@example(value=math.nan)
@example(value=-1)
@example(value=10**9)
def test_every_number_a_config_accepts_is_finite_and_in_range(where, value):
    section, key = where
    if section == "optim" and key == "lr":
        table = {"optim": {"lr": {"G": value}}}
    elif section == "schedules":
        table = {"schedules": {key: [[0, value]]}}
    elif section:
        table = {section: {key: value}}
    else:
        table = {key: value}
    try:
        cfg = config_from_dict({"family": "cyclegan", "preset": "demo", **table})
    except ConfigError as exc:
        assert key in str(exc) or "schedule" in str(exc)
        return
    assert isinstance(value, int) or math.isfinite(value)
    assert cfg.seed >= 0 and 0 < cfg.data.size <= 200_000 and cfg.steps > 0
    assert all(math.isfinite(v) and v > 0 for v in cfg.optim.lr.values())
