"""The client built for Redis under Sentinel: the URL gives the database, credentials and TLS,
the sentinels give the server."""

from redis.sentinel import (
    SentinelConnectionPool,
    SentinelManagedConnection,
    SentinelManagedSSLConnection,
)

from store.live_state import Sentinels, connect

SENTINELS = Sentinels((("10.0.0.1", 26379), ("10.0.0.2", 26379)), "amparo", "watch-pw")


def test_the_url_gives_database_and_password_and_the_sentinels_the_server() -> None:
    client = connect("redis://:primary-pw@unused:1/3", sentinels=SENTINELS)
    pool = client.connection_pool
    assert isinstance(pool, SentinelConnectionPool)
    assert pool.service_name == "amparo"
    assert pool.connection_class is SentinelManagedConnection
    assert pool.connection_kwargs["db"] == 3
    assert pool.connection_kwargs["password"] == "primary-pw"
    assert "host" not in pool.connection_kwargs
    assert pool.connection_kwargs["socket_timeout"] == 2.0  # the call path's short timeouts
    watchers = pool.sentinel_manager.sentinels
    assert [w.connection_pool.connection_kwargs["port"] for w in watchers] == [26379, 26379]
    assert watchers[0].connection_pool.connection_kwargs["password"] == "watch-pw"


def test_rediss_keeps_tls_to_the_primary() -> None:
    client = connect("rediss://unused/0", sentinels=SENTINELS, decode_responses=False)
    assert client.connection_pool.connection_class is SentinelManagedSSLConnection
