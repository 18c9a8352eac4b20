"""The pipeline benchmark as an instrument: it reads the stage times the workers log, and reports."""

from __future__ import annotations

import logging

import pytest
import redis

from benchmarks import bench_pipeline
from benchmarks.bench_pipeline import Outcome, Record
from grader import services
from grader.engine import Status, Verdict
from grader.models import Submission
from tests.grader.conftest import REDIS_DB, SIGMOID_RIGHT, redis_answers

pytestmark = pytest.mark.django_db


def test_it_reads_the_stage_times_a_worker_logs(student, sigmoid, monkeypatch, caplog):
    monkeypatch.setattr(services, "submission_enqueue", lambda **_: True)
    monkeypatch.setattr(
        services.engine, "grade", lambda *a, **k: Verdict(status=Status.CORRECT, score=1.0)
    )
    submission = services.submission_create(user=student, exercise=sigmoid, answer=SIGMOID_RIGHT)
    with caplog.at_level(logging.INFO, logger="grader.services"):
        services.submission_process(submission_id=submission.pk, task_id="t1", worker="w")
    stages = bench_pipeline.read_stages(caplog.text)[submission.pk]
    assert set(stages) == {"queue_wait", "claim", "grade", "record", "committed_at"}
    assert all(value >= 0 for value in stages.values())
    submission.refresh_from_db()
    assert submission.status == Submission.Status.FINISHED


def record(submission_id: int, verdict: str | None, expected: str, status: str) -> Record:
    outcome = Outcome(submission_id, status, verdict, seconds=0.2, received_at=1000.25)
    return Record("sigmoid-derivative", expected, outcome, submit_ms=20.0)


def test_the_summary_counts_lost_stuck_and_wrong_verdicts():
    results = [
        record(1, "correct", "correct", "finished"),
        record(2, "incorrect", "correct", "finished"),
        record(3, None, "correct", "queued"),
    ]
    rows = [["1", "finished", "s"], ["2", "finished", "s"], ["3", "queued", "s"]]
    stages = {
        1: {"queue_wait": 5.0, "claim": 1.0, "grade": 30.0, "record": 4.0, "committed_at": 1000.2}
    }
    summary = bench_pipeline.report(results, [], rows, stages, wall=2.0)
    assert (summary["lost"], summary["stuck"], summary["wrong"]) == (1, 1, 1)
    assert summary["verdicts_per_s"] == 1.0
    assert set(summary["submit_to_verdict_ms"]) == {"p50", "p95", "p99"}
    assert set(summary["stages_ms"]) == {"queue_wait", "claim", "grade", "record", "deliver"}
    assert summary["stages_ms"]["grade"]["p50"] == 30.0
    assert summary["stages_ms"]["deliver"]["p50"] == pytest.approx(50.0)


def test_pool_busy_is_the_time_in_tasks_over_the_pool_processes_time():
    rows = [
        ["1", "finished", "x-symbolic"],
        ["2", "finished", "x-symbolic"],
        ["3", "finished", "c"],
    ]
    stages = {
        1: {"claim": 100.0, "grade": 800.0, "record": 100.0, "committed_at": 11.0},
        2: {"claim": 100.0, "grade": 800.0, "record": 100.0, "committed_at": 14.0},
    }
    # Two tasks of 1 s each between t=10 and t=14, on two processes: 2 s of 8.
    assert bench_pipeline.pool_busy(rows, stages, {"symbolic": 2, "code": 1}) == {"symbolic": 0.25}


def test_the_cleanup_removes_the_runs_keys_and_leaves_others(monkeypatch):
    if not redis_answers():
        pytest.skip("no Redis")
    monkeypatch.setattr(bench_pipeline, "REDIS_DB", REDIS_DB)
    client = redis.Redis(db=REDIS_DB)
    client.flushdb()
    client.rpush("bench999-code", "message")
    client.sadd("_kombu.binding.bench999-code", "bench999-code")
    client.sadd("_kombu.binding.celery.pidbox", "x\x06\x16bench999-code@h.celery.pidbox")
    client.sadd("_kombu.binding.celery.pidbox", "x\x06\x16other@h.celery.pidbox")
    client.hset("unacked", mapping={"t1": '["bench999-code"]', "t2": '["other-code"]'})
    client.zadd("unacked_index", {"t1": 1.0, "t2": 2.0})
    try:
        remaining, new_keys = bench_pipeline.redis_cleanup("bench999", before=set())
        assert remaining == 0
        assert not client.exists("bench999-code", "_kombu.binding.bench999-code")
        assert client.smembers("_kombu.binding.celery.pidbox") == {
            b"x\x06\x16other@h.celery.pidbox"
        }
        assert client.hkeys("unacked") == [b"t2"] and client.zrange("unacked_index", 0, -1) == [
            b"t2"
        ]
        assert new_keys == ["_kombu.binding.celery.pidbox"]
    finally:
        client.flushdb()
