"""The interactive thread-count tuner: measures candidates, keeps the fastest, applies it on the worker thread."""

from __future__ import annotations

import threading

import pytest
import torch

from fashionstudio.core.thread_tuner import ThreadTuner, default_candidates


def test_default_candidates_are_one_and_the_core_count():
    assert default_candidates(1) == (1,)
    assert default_candidates(2) == (1, 2)
    assert default_candidates(8) == (1, 8)


def test_bad_settings_are_refused_with_a_reason():
    with pytest.raises(ValueError, match="positive"):
        ThreadTuner(candidates=(0, 2))
    with pytest.raises(ValueError, match="trials"):
        ThreadTuner(candidates=(1, 2), trials=0)


def test_alternates_then_keeps_the_candidate_with_the_lowest_median():
    tuner = ThreadTuner(candidates=(1, 2), trials=3)
    seconds = {1: [0.010, 0.011, 0.050], 2: [0.020, 0.019, 0.021]}  # one outlier must not decide
    order = []
    for _ in range(6):
        n = tuner.next_threads("m")
        order.append(n)
        tuner.record("m", n, seconds[n].pop(0))
    assert sorted(order) == [1, 1, 1, 2, 2, 2]
    assert order[:2] in ([1, 2], [2, 1])  # interleaved, not three of one kind first
    assert tuner.chosen("m") == 1
    assert all(tuner.next_threads("m") == 1 for _ in range(5))
    # A second model is measured on its own.
    assert tuner.chosen("other") is None


def test_two_threads_win_when_they_are_faster():
    tuner = ThreadTuner(candidates=(1, 2), trials=2)
    for _ in range(4):
        n = tuner.next_threads("big")
        tuner.record("big", n, 0.1 if n == 1 else 0.05)
    assert tuner.chosen("big") == 2
    tuner.forget("big")
    assert tuner.chosen("big") is None


def test_run_sets_the_thread_count_on_the_calling_thread_and_times_it():
    tuner = ThreadTuner(candidates=(1, 2), trials=1)
    seen = []

    def work():
        for _ in range(2):
            with tuner.run("m") as n:
                seen.append((n, torch.get_num_threads()))

    t = threading.Thread(target=work)
    t.start()
    t.join()
    assert sorted(n for n, _ in seen) == [1, 2]
    assert all(n == inside for n, inside in seen)  # the body really ran with that count
    assert tuner.chosen("m") in (1, 2)
    assert sorted(tuner.timings("m")) == [1, 2]


def test_a_failing_request_is_not_timed_and_no_key_changes_nothing():
    tuner = ThreadTuner(candidates=(1, 2), trials=1)
    with pytest.raises(RuntimeError):
        with tuner.run("m"):
            raise RuntimeError("boom")
    assert all(not v for v in tuner.timings("m").values())
    before = torch.get_num_threads()
    with tuner.run(None) as n:
        assert n is None and torch.get_num_threads() == before


def test_the_interactive_worker_runs_tuned_jobs_with_the_tuners_thread_count(qtbot):
    from fashionstudio.core.thread_tuner import shared_tuner
    from fashionstudio.gui.workers import LatestWinsWorker

    worker = LatestWinsWorker()
    key = "test-model-sha"
    shared_tuner().forget(key)
    seen: list[tuple[int, int | None]] = []
    worker.result_ready.connect(lambda rid, result, ms: seen.append(result))

    def job():
        return torch.get_num_threads(), shared_tuner().next_threads(key)

    for _ in range(2 * len(shared_tuner().candidates) * shared_tuner().trials):
        n = len(seen)
        worker.submit(job, tune_key=key)
        qtbot.waitUntil(lambda: len(seen) > n, timeout=5000)
    counts = [inside for inside, _ in seen]
    assert set(counts) == set(shared_tuner().candidates)  # every candidate was tried on the worker thread
    assert shared_tuner().chosen(key) in shared_tuner().candidates
    assert counts[-1] == shared_tuner().chosen(key)  # and the winner serves the later requests
    assert worker.shutdown(1.0)
    shared_tuner().forget(key)
