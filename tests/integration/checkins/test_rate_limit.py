"""The outbound rate limit: turns 1/cps apart across clients, and a refusal with the delay
when the wait would be too long."""

from __future__ import annotations

import threading

import redis

from checkins.rate_limit import OutboundRateLimit


def test_turns_are_reserved_one_interval_apart_across_clients(redis_url: str) -> None:
    clients = [redis.Redis.from_url(redis_url) for _ in range(4)]
    limits = [OutboundRateLimit(client, cps=10.0, name="test-spacing") for client in clients]
    waits: list[float] = []
    lock = threading.Lock()

    def take(limit: OutboundRateLimit) -> None:
        for _ in range(5):
            reservation = limit.reserve(max_wait_s=10.0)
            assert reservation.granted
            with lock:
                waits.append(reservation.wait_s)

    threads = [threading.Thread(target=take, args=(limit,)) for limit in limits]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    clients[0].delete("amparo:ratelimit:test-spacing")
    # 20 turns, each 0.1 s after the previous: the last one waits ~1.9 s.
    assert len(waits) == 20
    assert max(waits) >= 1.8


def test_a_caller_that_would_wait_too_long_is_told_when_to_come_back(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    limit = OutboundRateLimit(client, cps=1.0, name="test-refusal")
    assert limit.reserve(max_wait_s=0.5).granted
    refused = limit.reserve(max_wait_s=0.5)
    assert not refused.granted and 0.5 < refused.wait_s <= 1.0
    client.delete("amparo:ratelimit:test-refusal")
