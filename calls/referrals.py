"""Referrals: the agent on a call records which resource she referred the caller to.

A referral names a resource that serves the call's line (its own or every line's); referring
twice to the same resource on one call records it once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from calls.errors import UnknownResource
from store.models import Resource
from store.records import Call, Referral


def refer(db: Session, call: Call, resource_id: str, agent_id: str, at: datetime) -> Referral:
    """Record (in the caller's transaction) that ``call`` was referred to ``resource_id``."""
    resource = db.get(Resource, resource_id) if isinstance(resource_id, str) else None
    if resource is None or not resource.active or resource.line_id not in (None, call.line_id):
        raise UnknownResource("console.unknown_resource", "no such resource for this line")
    existing = db.scalar(
        select(Referral).where(Referral.call_id == call.id, Referral.resource_id == resource.id)
    )
    if existing is not None:
        return existing
    referral = Referral(call_id=call.id, resource_id=resource.id, agent_id=agent_id, referred_at=at)
    db.add(referral)
    db.flush()
    return referral


def referrals_of(db: Session, call_id: str) -> list[dict[str, Any]]:
    """The call's referrals, oldest first, with the resource's name and kind."""
    rows = db.execute(
        select(Referral, Resource)
        .join(Resource, Resource.id == Referral.resource_id)
        .where(Referral.call_id == call_id)
        .order_by(Referral.referred_at, Referral.id)
    )
    return [
        {
            "resource_id": resource.id,
            "name": resource.name,
            "kind": resource.kind,
            "phone": resource.phone,
            "referred_at": referral.referred_at.isoformat(timespec="seconds"),
            "agent_id": referral.agent_id,
        }
        for referral, resource in rows
    ]
