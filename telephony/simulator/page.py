"""The caller simulator's page (``/simulator``) and what it needs beside the call API: the
lines to dial and a device's panic button.

The panic button makes the device do what an ATENPRO terminal does: it calls its line, and the
switchboard treats a call from a device's number as an alarm (no menu, straight to the urgent
team). The device's number and secret stay on the server: the browser names a serial only.
The location the page sends is sealed into the call's log for the caller card.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, abort, jsonify, render_template
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from checkins.alarm_locations import seal_location
from locales.markers import N_
from locales.prompts import ui_text
from store.call_log import CallLog
from store.models import Device, Line
from store.vocabulary import AlarmType
from telephony.simulator.phone import SimulatedPhones
from web.bodies import json_object
from web.csrf import check_csrf
from web.guard import login_required
from web.language import ui_locale

SCRIPT_MESSAGES = (
    N_("simulator.status.ringing"),
    N_("simulator.status.in_ivr"),
    N_("simulator.status.waiting_for_keys"),
    N_("simulator.status.on_hold"),
    N_("simulator.status.connected"),
    N_("simulator.status.transferred"),
    N_("simulator.status.ended"),
    N_("simulator.error"),
    N_("simulator.alarm_sent"),
    N_("simulator.incoming"),
    N_("simulator.answer"),
    N_("simulator.answer_machine"),
)
"""The texts the simulator's script shows, in the page's language."""


def _number(body: dict[str, Any], name: str, low: float, high: float) -> float:
    try:
        value = float(body[name])
    except (KeyError, TypeError, ValueError):
        abort(400, description=f"'{name}' must be a number")
    if not low <= value <= high:
        abort(400, description=f"'{name}' must be between {low} and {high}")
    return value


def simulator_page(
    phones_of: Callable[[], SimulatedPhones],
    sessions: sessionmaker[Session],
    default_locale: str = "es",
) -> Blueprint:
    bp = Blueprint("simulator_page", __name__)
    call_log = CallLog(sessions)

    @bp.get("/simulator")
    @login_required()
    def page() -> str:
        locale = ui_locale(default_locale)
        return render_template(
            "simulator.html",
            alarm_types=[kind.value for kind in AlarmType],
            simulator_texts=lambda: {
                message_id: ui_text(message_id, locale) for message_id in SCRIPT_MESSAGES
            },
        )

    @bp.get("/simulator/api/lines")
    @login_required()
    def lines() -> Response:
        with sessions() as db:
            rows = db.scalars(select(Line).order_by(Line.name)).all()
            return jsonify(lines=[{"name": line.name, "number": line.number} for line in rows])

    @bp.post("/simulator/api/devices/<serial>/panic")
    @login_required()
    def panic(serial: str) -> tuple[Response, int] | Response:
        check_csrf()
        body = json_object(or_form=True)
        alarm_type = str(body.get("alarm_type") or AlarmType.ASSAULT.value)
        if alarm_type not in {kind.value for kind in AlarmType}:
            abort(400, description="unknown alarm type")
        latitude = _number(body, "latitude", -90, 90)
        longitude = _number(body, "longitude", -180, 180)
        accuracy = _number(body, "accuracy_m", 0, 100000) if body.get("accuracy_m") else None
        with sessions() as db:
            device = db.scalar(select(Device).where(Device.serial == serial, Device.active))
            if device is None:
                body_404 = {"error_id": "simulator_unknown_device", "message": "no such device"}
                return jsonify(body_404), 404
            line = db.get(Line, device.beneficiary.line_id) if device.beneficiary.line_id else None
            line_number = line.number if line else str(body.get("line") or "")
            device_number = device.number
        now = time.time()
        call = phones_of().dial(line_number, device_number, now)
        call_log.append(
            call.call_id,
            "alarm_location",
            {
                "alarm_type": alarm_type,
                "source": "simulator",
                "location_sealed": seal_location(latitude, longitude, accuracy, now),
            },
            at=now,
        )
        return jsonify(call_id=call.call_id, status=call.status.value, path="device_call")

    return bp
