"""The reconnection state (`sse_cli.protocol.reconnect`): pure, tested with injected
randomness and no sleeping or network."""

from __future__ import annotations

import pytest

from sse_cli.protocol.reconnect import Backoff, GiveUp, Policy, Reconnection, Wait


def state(**policy: object) -> Reconnection:
    return Reconnection(Policy(**policy), rand=lambda: 0.0)  # type: ignore[arg-type]


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


def test_a_stream_that_ran_waits_the_reconnection_time_then_backs_off_on_failures() -> None:
    conn = state()
    conn.opened()
    assert conn.after_stream() == Wait(3.0)
    assert [conn.after_failure() for _ in range(3)] == [Wait(6.0), Wait(12.0), Wait(24.0)]
    conn.opened()  # a stream ran again: the backoff starts over
    assert conn.after_stream() == Wait(3.0)


def test_the_servers_retry_sets_the_reconnection_time_for_later_connections() -> None:
    conn = state()
    conn.seen("7", 250, True)
    assert conn.retry == 0.25 and conn.last_event_id == "7"
    conn.seen("8", None, False)  # a connection that sent no retry: the last one stays
    assert conn.after_stream() == Wait(0.25) and conn.ids_seen


def test_retry_after_lengthens_a_wait_but_never_shortens_it() -> None:
    conn = state()
    assert conn.after_failure(retry_after=10.0) == Wait(10.0)
    assert conn.after_failure(retry_after=1.0) == Wait(6.0)


def test_max_retries_n_allows_n_retries_then_names_the_flag() -> None:
    conn = state(max_retries=2)
    assert isinstance(conn.after_failure(), Wait)
    assert isinstance(conn.after_failure(), Wait)
    assert conn.after_failure() == GiveUp("gave up after 2 retries, as --max-retries 2 says")
    conn.opened()  # a stream that runs starts the count again
    assert isinstance(conn.after_failure(), Wait)
    assert state(max_retries=0).after_failure() == GiveUp(
        "gave up after 0 retries, as --max-retries 0 says"
    )


def test_post_reconnects_only_once_the_server_sent_an_id() -> None:
    conn = state(method="POST")
    decision = conn.after_stream()
    assert isinstance(decision, GiveUp) and "--reconnect forces it" in decision.reason
    conn.seen("1", None, True)
    assert conn.after_stream() == Wait(3.0)
    assert state(method="POST", reconnect=True).after_stream() == Wait(3.0)


def test_no_reconnect_gives_up_naming_the_flag() -> None:
    conn = state(reconnect=False)
    assert conn.after_stream() == GiveUp("not retried: --no-reconnect")
    assert conn.after_failure() == GiveUp("not retried: --no-reconnect")


def test_last_event_id_is_sent_unless_the_user_set_one_or_it_cannot_be_carried() -> None:
    conn = state()
    assert conn.headers([("Accept", "text/event-stream")]) == [("Accept", "text/event-stream")]
    conn.seen("41", None, True)
    assert conn.headers([]) == [("Last-Event-ID", "41")]
    assert conn.headers([("last-event-id", "x")]) == [("last-event-id", "x")]
    conn.seen("4\r\n1", None, True)
    assert not conn.sendable_id() and conn.headers([]) == []


def test_retries_asked_only_by_reconnect_or_max_retries() -> None:
    assert not state().retries_asked()
    assert state(reconnect=True).retries_asked()
    assert state(max_retries=3).retries_asked()
    assert not state(reconnect=False).retries_asked()
