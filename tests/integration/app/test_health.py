from app import create_app
from runtime import build_runtime
from settings import Settings
from store import timekeeper
from store.lease import Lease
from tests.harness.services import RedisProcess


def test_healthz_answers_while_the_process_lives(settings: Settings) -> None:
    app = create_app(settings)
    assert app.test_client().get("/healthz").json == {"status": "alive"}


def test_readyz_is_503_naming_redis_while_it_is_stopped_and_200_when_back(
    settings: Settings, redis_process: RedisProcess
) -> None:
    runtime = build_runtime(settings.with_overrides(redis_url=redis_process.url))
    client = create_app(runtime=runtime).test_client()
    try:
        ready = client.get("/readyz")
        assert ready.status_code == 200
        assert (ready.json or {})["checks"] == {"database": "ok", "redis": "ok", "routing": "ok"}
        # No worker runs: said, though this process is ready to answer calls.
        assert (ready.json or {})["deployment"] == {"timekeeper": "down"}
        assert Lease(runtime.redis, timekeeper.LEASE, 5000).hold()
        assert (client.get("/readyz").json or {})["deployment"] == {"timekeeper": "ok"}

        redis_process.stop()
        down = client.get("/readyz")
        assert down.status_code == 503
        assert (down.json or {})["down"] == ["redis", "routing"]

        redis_process.start()
        assert client.get("/readyz").status_code == 200
    finally:
        runtime.close()


def test_readyz_is_503_naming_the_database_when_it_does_not_answer(settings: Settings) -> None:
    broken = settings.with_overrides(database_url="sqlite:////nonexistent-dir/amparo.sqlite3")
    runtime = build_runtime(broken)
    try:
        response = create_app(runtime=runtime).test_client().get("/readyz")
        assert response.status_code == 503
        assert (response.json or {})["down"] == ["database", "routing"]
    finally:
        runtime.close()
