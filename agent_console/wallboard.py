"""The supervisors' wallboard (``/supervisor``): waiting calls by risk and language, agents by
state, today's service level, open escalations and alarms, charts, and listen / whisper /
barge on a live call.

The page re-reads its board fragment when the event stream says something moved (offers,
rings, alerts published on the supervisors' channel by any process) and every few seconds for
the clocks; every figure comes from routing's views over Redis and from the call rows.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Blueprint, Response, g, jsonify, render_template
from markupsafe import Markup
from sqlalchemy import select

from agent_console.charts import DayWindow, calls_per_hour, hourly_bars_svg, risk_mix, risk_mix_svg
from agent_console.ports import ConsoleError, ConsolePorts
from agent_console.supervision import Supervision, supervision_modes
from agent_console.texts import (
    AFTER_CALL_TEXT,
    ALARM_REASONS,
    ALERT_TEXT,
    ESCALATION_REASON_TEXT,
    STATE_TEXT,
    language_label,
)
from calls.control import INTERPRETER_FIELD, SUPERVISION_MODES
from locales.prompts import ui_text
from locales.ui_strings import RISK
from routing import AgentState, views
from routing.channels import SUPERVISOR_FEED, base_call_id
from store.live_state import key
from store.models import Agent, Line
from store.records import Call, Escalation
from store.vocabulary import RiskLevel
from web.bodies import json_object
from web.csrf import check_csrf
from web.guard import login_required
from web.language import ui_locale

SUPERVISOR_ROLES = ("supervisor", "admin")
RECENT_ACKNOWLEDGED = timedelta(hours=2)
FEED_SHOWN = 15


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat(timespec="seconds") if value else None


def _reason(reason: str, locale: str) -> str:
    message_id = ESCALATION_REASON_TEXT.get(reason)
    return ui_text(message_id, locale) if message_id else reason


class Wallboard:
    def __init__(self, ports: ConsolePorts) -> None:
        self._ports = ports

    def board(self, locale: str) -> dict[str, Any]:
        now = self._ports.clock()
        live = self._ports.live
        router = self._ports.router()
        with self._ports.sessions() as db:
            names = {agent.id: agent.display_name for agent in db.scalars(select(Agent))}
            lines = {line.id: line.name for line in db.scalars(select(Line))}
            since = datetime.fromtimestamp(now, UTC) - RECENT_ACKNOWLEDGED
            escalation_rows = {
                row.id: row
                for row in db.scalars(
                    select(Escalation).where(
                        (Escalation.acknowledged_at.is_(None))
                        | (Escalation.acknowledged_at >= since)
                    )
                )
            }
        waiting = [
            {
                **asdict(group),
                "risk": group.risk.value,
                "risk_label": ui_text(RISK[group.risk.value], locale),
                "line": lines.get(group.queue.partition(".")[0], ""),
                "queue_name": group.queue.partition(".")[2] or group.queue,
                "longest_wait": round(group.longest_wait),
                "language_label": language_label(group.language, locale),
            }
            for group in views.waiting_calls(live, now)
        ]
        agents = []
        live_calls = []
        for state, presences in views.agents_by_state(live, now).items():
            for presence in presences:
                if presence.agent_id not in names:
                    continue
                after = presence.after_call
                agents.append(
                    {
                        "agent_id": presence.agent_id,
                        "name": names[presence.agent_id],
                        "state": state.value,
                        "state_label": ui_text(STATE_TEXT[state.value], locale),
                        "after_call": after.value if after else None,
                        "after_call_label": (
                            ui_text(AFTER_CALL_TEXT[after.value], locale) if after else None
                        ),
                        "in_state_for": round(presence.in_state_for),
                        "languages": list(presence.languages),
                        "language_labels": [
                            language_label(code, locale) for code in presence.languages
                        ],
                    }
                )
                if state is AgentState.ON_CALL and presence.call_id:
                    call_id = base_call_id(presence.call_id)
                    live_call = {
                        str(name): str(value)
                        for name, value in live.hgetall(key("call", call_id)).items()
                    }
                    live_calls.append(
                        {
                            "call_id": call_id,
                            "agent": names[presence.agent_id],
                            "for": round(presence.in_state_for),
                            "interpreter": live_call.get(INTERPRETER_FIELD),
                            "supervisors": supervision_modes(live_call),
                        }
                    )
        agents.sort(key=lambda item: (item["state"] == "offline", item["name"]))
        level = views.service_level_today(live, router.config, now)
        open_ids = set()
        escalations = []
        for escalation in views.open_escalations(live, now):
            open_ids.add(escalation.escalation_id)
            escalations.append(
                {
                    "escalation_id": escalation.escalation_id,
                    "reason": escalation.reason,
                    "reason_label": _reason(escalation.reason, locale),
                    "alarm": escalation.reason in ALARM_REASONS,
                    "call_id": escalation.call_id,
                    "tier": escalation.tier,
                    "round": escalation.round,
                    "open_for": round(escalation.open_for),
                    "acknowledged": False,
                    "acknowledged_by": None,
                }
            )
        for row in escalation_rows.values():
            if row.acknowledged_at is None or f"call:{row.call_id}" in open_ids:
                continue
            escalations.append(
                {
                    "escalation_id": row.id,
                    "reason": row.reason,
                    "reason_label": _reason(row.reason, locale),
                    "alarm": row.reason in ALARM_REASONS,
                    "call_id": row.call_id,
                    "tier": row.tier,
                    "round": None,
                    "open_for": round((row.acknowledged_at - row.opened_at).total_seconds()),
                    "acknowledged": True,
                    "acknowledged_by": names.get(row.acknowledged_by or ""),
                }
            )
        feed = [json.loads(item) for item in live.lrange(SUPERVISOR_FEED, 0, FEED_SHOWN - 1)]
        for alert in feed:
            known = ALERT_TEXT.get(str(alert.get("kind")))
            alert["label"] = ui_text(known, locale) if known else str(alert.get("kind"))
            alert["at"] = _iso(datetime.fromtimestamp(float(alert.get("at") or now), UTC))
        callbacks = self._ports.callbacks().overdue(now) if self._ports.callbacks else []
        for item in callbacks:
            item["risk_label"] = ui_text(RISK[item["risk"]], locale)
        return {
            "now": now,
            "waiting": waiting,
            "agents": agents,
            "live_calls": live_calls,
            "with_interpreter": sum(1 for call in live_calls if call["interpreter"]),
            "service_level": asdict(level),
            "escalations": escalations,
            "alerts": feed,
            "callbacks_overdue": callbacks,
        }

    def charts(self, locale: str) -> dict[str, str]:
        now = self._ports.clock()
        window = DayWindow.containing(now, self._ports.router().config.day_offset_seconds)
        with self._ports.sessions() as db:
            rows = db.execute(
                select(Call.started_at, Call.risk_level).where(
                    Call.started_at >= window.start, Call.started_at < window.end
                )
            ).all()
        labels = {level: ui_text(RISK[level.value], locale) for level in RiskLevel}
        return {
            "calls_per_hour": hourly_bars_svg(
                calls_per_hour((row[0] for row in rows), window),
                ui_text("console.chart.calls_per_hour", locale),
                ui_text("console.chart.calls", locale),
            ),
            "risk_mix": risk_mix_svg(
                risk_mix(row[1] for row in rows),
                labels,
                ui_text("console.chart.risk_mix", locale),
            ),
        }


def wallboard_blueprint(ports: ConsolePorts) -> Blueprint:
    bp = Blueprint("wallboard", __name__)
    board = Wallboard(ports)
    supervision = Supervision(ports)

    @bp.errorhandler(ConsoleError)
    def _console_error(exc: ConsoleError) -> tuple[Response, int]:
        return jsonify(error_id=exc.error_id, message=exc.message), exc.status

    def _fragment_context() -> dict[str, Any]:
        locale = ui_locale(ports.default_locale)
        charts = board.charts(locale)
        return {
            "board": board.board(locale),
            "calls_per_hour_svg": Markup(charts["calls_per_hour"]),  # noqa: S704 - built here
            "risk_mix_svg": Markup(charts["risk_mix"]),  # noqa: S704 - escaped when built
            "modes": SUPERVISION_MODES,
            "me": g.agent_id,
        }

    @bp.get("/supervisor")
    @login_required(*SUPERVISOR_ROLES)
    def board_page() -> str:
        return render_template("wallboard.html", **_fragment_context())

    @bp.get("/supervisor/board")
    @login_required(*SUPERVISOR_ROLES)
    def fragment() -> str:
        return render_template("wallboard_board.html", **_fragment_context())

    @bp.get("/supervisor/api/board")
    @login_required(*SUPERVISOR_ROLES)
    def board_json() -> Response:
        return jsonify(board.board(ui_locale(ports.default_locale)))

    @bp.post("/supervisor/api/calls/<call_id>/supervise")
    @login_required(*SUPERVISOR_ROLES)
    def supervise(call_id: str) -> Response:
        check_csrf()
        body = json_object(or_form=True)
        mode = str(body.get("mode") or "")
        if mode not in SUPERVISION_MODES:
            raise ConsoleError("console.bad_mode", "mode is listen, whisper or barge", 400)
        supervision.supervise(call_id, g.agent_id, g.role, mode)
        return jsonify(call_id=call_id, mode=mode)

    @bp.post("/supervisor/api/calls/<call_id>/leave")
    @login_required(*SUPERVISOR_ROLES)
    def leave(call_id: str) -> Response:
        check_csrf()
        supervision.leave(call_id, g.agent_id, g.role)
        return jsonify(call_id=call_id, mode=None)

    return bp
