"""Replaying into a new prefix shows the user the outcome, not aiokafka's leader-election noise.

Right after its topics are created, a partition's leader may not be known yet and aiokafka warns
"NotLeaderForPartition, retrying" before it succeeds by itself (seen in about one run in three
on a single local broker). Several fresh prefixes make such a warning likely to happen here; the
unit test tests/edge/test_kafka_noise.py has aiokafka write each of them for certain.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import pytest
import run_topics

pytestmark = pytest.mark.integration

NOISE = ("aiokafka", "retrying", "NotLeaderForPartition", "LeaderNotAvailable", "not found in")


def opvangwacht(prefix: str, bootstrap: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "streams.cli", *args],
        env={**os.environ, "OPVANG_KAFKA_BOOTSTRAP": bootstrap, "OPVANG_TOPIC_PREFIX": prefix},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_load_locations_and_replay_into_new_prefixes_print_no_kafka_noise(
    kafka_bootstrap: str,
) -> None:
    for _ in range(4):
        prefix = f"test-{uuid.uuid4().hex[:10]}."
        run_topics.remember(kafka_bootstrap, prefix)  # deleted when the session ends
        loaded = opvangwacht(prefix, kafka_bootstrap, "load-locations")
        replayed = opvangwacht(prefix, kafka_bootstrap, "replay", "ter-apel-2022-08")
        assert loaded.returncode == 0, loaded.stderr
        assert replayed.returncode == 0, replayed.stderr
        assert loaded.stdout.startswith(f"published 11 locations to {prefix}locations")
        assert replayed.stdout.startswith("published 86 records")
        for result in (loaded, replayed):
            noisy = [line for line in result.stderr.splitlines() if any(n in line for n in NOISE)]
            assert noisy == [], result.args
