"""Who is calling which line: the lookups every channel makes when a call starts.

Only ids, flags and the stored risk leave this module; the caller's number is used to compute
its lookup hash and is kept encrypted on the call row, nothing more.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from store.models import Beneficiary, BeneficiaryPhone, Device, Line, Team
from store.phone_numbers import InvalidPhoneNumber, lookup_hash, to_e164
from store.vocabulary import RiskLevel


@dataclass(frozen=True)
class LineInfo:
    line_id: str
    name: str
    number: str
    default_locale: str
    jurisdiction: str
    flow: str
    overflow_number: str
    urgent_number: str
    urgent_team_id: str | None
    callback_offer_when_waiting: int | None = None
    """Callers waiting from which a calm caller is offered a callback (None: never)."""
    interpreter_on_accept: bool = False
    """The interpreter is conferenced as soon as an agent accepts a caller who needs one."""

    def queue_id(self, queue: str) -> str:
        """Routing queues are per line: the flow's ``general`` becomes ``<line id>.general``."""
        return f"{self.line_id}.{queue}"

    def target_number(self, target: str) -> str:
        """Numbers for a flow's symbolic dial targets; anything unknown dials the overflow."""
        return self.urgent_number if target == "urgent" else self.overflow_number


@dataclass(frozen=True)
class CallerInfo:
    e164: str | None
    number_hash: str | None
    beneficiary_id: str | None = None
    stored_risk: RiskLevel | None = None
    preferred_locale: str | None = None
    device_id: str | None = None
    registered_number: bool = False


class Directory:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def line_for(self, dialled: str | None) -> LineInfo | None:
        """The line whose number was dialled; with one line configured, that line."""
        with self._sessions() as db:
            line = None
            if dialled:
                try:
                    line = db.scalar(select(Line).where(Line.number == to_e164(dialled)))
                except InvalidPhoneNumber:
                    line = None
            if line is None:
                lines = list(db.scalars(select(Line).order_by(Line.created_at).limit(2)))
                line = lines[0] if len(lines) == 1 else None
            if line is None:
                return None
            team_id = db.scalar(select(Team.id).where(Team.line_id == line.id).limit(1))
            if team_id is None:
                team_id = db.scalar(select(Team.id).order_by(Team.name).limit(1))
            return _line_info(line, team_id)

    def line(self, line_id: str) -> LineInfo | None:
        with self._sessions() as db:
            line = db.get(Line, line_id)
            if line is None:
                return None
            team_id = db.scalar(select(Team.id).where(Team.line_id == line.id).limit(1))
            return _line_info(line, team_id)

    def caller_for(self, raw_number: str | None, region: str) -> CallerInfo:
        """The registered beneficiary or device behind a number, if any (withheld: nobody)."""
        if not raw_number:
            return CallerInfo(None, None)
        try:
            e164 = to_e164(raw_number, region)
        except InvalidPhoneNumber:
            return CallerInfo(None, None)
        digest = lookup_hash(e164)
        with self._sessions() as db:
            device = db.scalar(select(Device).where(Device.number_hash == digest, Device.active))
            if device is not None:
                owner = device.beneficiary
                return CallerInfo(
                    e164,
                    digest,
                    beneficiary_id=owner.id,
                    stored_risk=RiskLevel(owner.risk_level),
                    preferred_locale=owner.preferred_locale,
                    device_id=device.id,
                    registered_number=True,
                )
            registered = db.scalar(
                select(Beneficiary)
                .join(BeneficiaryPhone)
                .where(BeneficiaryPhone.number_hash == digest)
                .limit(1)
            )
            if registered is None:
                return CallerInfo(e164, digest)
            return CallerInfo(
                e164,
                digest,
                beneficiary_id=registered.id,
                stored_risk=RiskLevel(registered.risk_level),
                preferred_locale=registered.preferred_locale,
                registered_number=True,
            )


def _line_info(line: Line, team_id: str | None) -> LineInfo:
    return LineInfo(
        line_id=line.id,
        name=line.name,
        number=line.number,
        default_locale=line.default_locale,
        jurisdiction=line.jurisdiction,
        flow=line.flow,
        overflow_number=line.overflow_number,
        urgent_number=line.urgent_number,
        urgent_team_id=team_id,
        callback_offer_when_waiting=line.callback_offer_when_waiting,
        interpreter_on_accept=line.interpreter_on_accept,
    )
