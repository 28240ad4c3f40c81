"""A flood of unsigned alarms must not fill the disk: refusals are kept within limits per
address, per claimed serial and in all, with bodies cut short; the rest is rolled up. Every
sender gets the same refusal whatever is kept."""

from __future__ import annotations

import secrets

import pytest
import redis
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app import create_app
from checkins import refused
from checkins.context import CheckinContext
from runtime import Runtime
from store.alarms import RejectedDeviceMessage


@pytest.fixture
def client(runtime: Runtime, ctx: CheckinContext) -> FlaskClient:
    return create_app(runtime=runtime).test_client()


def _unsigned(client: FlaskClient, serial: str, address: str, body: bytes = b"{}") -> int:
    answer = client.post(
        "/api/devices/alarm",
        data=body,
        headers={"X-Amparo-Device": serial, "Content-Type": "application/json"},
        environ_base={"REMOTE_ADDR": address},
    )
    return answer.status_code


def _kept(ctx: CheckinContext, prefix: str) -> list[RejectedDeviceMessage]:
    with ctx.sessions() as db:
        return list(
            db.scalars(
                select(RejectedDeviceMessage).where(
                    RejectedDeviceMessage.device_ref.like(f"{prefix}%")
                )
            )
        )


def test_a_flood_from_one_address_keeps_only_a_few_and_rolls_up_the_rest(
    client: FlaskClient, ctx: CheckinContext, redis_client: redis.Redis
) -> None:
    prefix = f"FLOOD-{secrets.token_hex(4)}-"
    big = b"x" * 20_000
    answers = {_unsigned(client, f"{prefix}{n}", "203.0.113.9", big) for n in range(60)}
    assert answers == {401}, "the same refusal whatever is kept"
    kept = _kept(ctx, prefix)
    assert len(kept) == refused.PER_SOURCE
    assert all(len(row.raw_body or "") <= refused.MAX_KEPT_BODY for row in kept)
    window = int(ctx.clock.now().timestamp()) // refused.WINDOW_S * refused.WINDOW_S
    rolled = redis_client.hgetall(refused.rolled_up_key(window))
    assert sum(int(count) for count in rolled.values()) == 60 - refused.PER_SOURCE


def test_one_claimed_serial_from_many_addresses_keeps_only_a_few(
    client: FlaskClient, ctx: CheckinContext
) -> None:
    serial = f"FLOOD-{secrets.token_hex(4)}"
    for n in range(40):
        assert _unsigned(client, serial, f"198.51.100.{n}") == 401
    assert len(_kept(ctx, serial)) == refused.PER_SOURCE


def test_many_addresses_and_serials_stop_at_the_cap_for_all(
    client: FlaskClient, ctx: CheckinContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(refused, "PER_WINDOW", 25)
    prefix = f"FLOOD-{secrets.token_hex(4)}-"
    with ctx.sessions() as db:
        before = db.scalar(select(func.count()).select_from(RejectedDeviceMessage))
    for n in range(60):
        assert _unsigned(client, f"{prefix}{n}", f"192.0.2.{n}") == 401
    with ctx.sessions() as db:
        after = db.scalar(select(func.count()).select_from(RejectedDeviceMessage))
    assert len(_kept(ctx, prefix)) == 25
    assert after is not None and before is not None and after - before == 25
