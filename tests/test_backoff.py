"""The reconnection wait: a pure policy, tested with injected randomness and no sleeping."""

from __future__ import annotations

import pytest

from sse_cli.backoff import Backoff


def test_the_first_wait_is_the_reconnection_time() -> None:
    assert Backoff(rand=lambda: 0.0).next_delay(3.0) == 3.0


def test_consecutive_failures_double_the_wait_up_to_the_cap() -> None:
    backoff = Backoff(cap=30.0, rand=lambda: 0.0)
    assert [backoff.next_delay(3.0) for _ in range(6)] == [3.0, 6.0, 12.0, 24.0, 30.0, 30.0]


def test_a_server_retry_longer_than_the_cap_is_kept() -> None:
    backoff = Backoff(cap=30.0, rand=lambda: 0.0)
    assert [backoff.next_delay(60.0) for _ in range(3)] == [60.0, 60.0, 60.0]


def test_retry_zero_backs_off_from_a_floor_instead_of_a_busy_loop() -> None:
    backoff = Backoff(rand=lambda: 0.0)
    assert [backoff.next_delay(0.0) for _ in range(4)] == [0.0, 1.0, 2.0, 4.0]


@pytest.mark.parametrize("draw", [0.0, 0.5, 0.999])
def test_jitter_only_lengthens_a_wait(draw: float) -> None:
    backoff = Backoff(jitter=0.2, rand=lambda: draw)
    assert backoff.next_delay(3.0) == pytest.approx(3.0 * (1 + 0.2 * draw))
    assert backoff.next_delay(3.0) >= 6.0


def test_reset_after_a_success_starts_from_the_reconnection_time_again() -> None:
    backoff = Backoff(rand=lambda: 0.0)
    backoff.next_delay(3.0)
    backoff.next_delay(3.0)
    backoff.reset()
    assert backoff.failures == 0
    assert backoff.next_delay(3.0) == 3.0
