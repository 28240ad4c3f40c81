"""Which interpreting service joins a call in a language: the line's own for that language,
else one serving every line; an exact BCP 47 tag first, then its primary language (a call in
``ar-MA`` gets the ``ar`` interpreter)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from store.models import Interpreter


@dataclass(frozen=True)
class InterpreterLine:
    """Where to reach one: a phone number or SIP URI, and the digits to send on answer."""

    language: str
    target: str
    dtmf: str | None

    @property
    def is_sip(self) -> bool:
        return self.target.startswith(("sip:", "sips:"))


class NoInterpreter(LookupError):
    error_id = "console.no_interpreter"


def interpreter_for(
    sessions: sessionmaker[Session], line_id: str | None, language: str
) -> InterpreterLine:
    """Raises :class:`NoInterpreter` when the hotline configures none for ``language``."""
    wanted = [language.lower()]
    primary = wanted[0].split("-", 1)[0]
    if primary != language:
        wanted.append(primary)
    with sessions() as db:
        rows = db.scalars(
            select(Interpreter).where(
                Interpreter.active, func.lower(Interpreter.language).in_(wanted)
            )
        ).all()
        ranked = sorted(
            rows,
            key=lambda row: (wanted.index(row.language.lower()), row.line_id != line_id),
        )
        usable = [row for row in ranked if row.line_id in (line_id, None)]
        if not usable:
            raise NoInterpreter(f"no interpreter for {language!r} is configured")
        best = usable[0]
        return InterpreterLine(best.language, best.target, best.dtmf)
