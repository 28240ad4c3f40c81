"""Caseworkers' pages (supervisors and admins): find, register and edit beneficiaries.

URLs carry ids only: a search by phone number is posted, never put in a query string. An
invalid form comes back with each field's error and everything typed except the PIN fields.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, g, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from agent_console.beneficiary_form import (
    CADENCES,
    ERRORS,
    BeneficiaryForm,
)
from agent_console.beneficiary_register import (
    BeneficiaryRegister,
    FormInvalid,
    RecordView,
    SearchHit,
    UnknownBeneficiary,
)
from agent_console.ports import ConsolePorts
from checkins import devices
from checkins.errors import CheckinError, UnknownRecord
from checkins.register import PHONE_KINDS
from locales.markers import N_
from locales.ui_strings import RISK
from settings import SUPPORTED_LOCALES
from store.vocabulary import RiskLevel
from web.csrf import check_csrf
from web.guard import login_required

CASEWORKER_ROLES = ("supervisor", "admin")
DEVICE_ERROR = N_("console.devices.error")
DEVICE_ERRORS = {
    "device_serial_taken": N_("console.devices.serial_taken"),
    "device_number_taken": N_("console.devices.number_taken"),
    "device_revoked": N_("console.devices.revoked_already"),
}
PHONE_KIND_TEXT = {
    "primary": N_("console.beneficiary.phone.primary"),
    "safe_alternative": N_("console.beneficiary.phone.safe_alternative"),
}
WEEKDAY_TEXT = (
    N_("console.weekday.mon"),
    N_("console.weekday.tue"),
    N_("console.weekday.wed"),
    N_("console.weekday.thu"),
    N_("console.weekday.fri"),
    N_("console.weekday.sat"),
    N_("console.weekday.sun"),
)


def beneficiaries_blueprint(ports: ConsolePorts) -> Blueprint:
    bp = Blueprint("beneficiaries", __name__)
    register = BeneficiaryRegister(ports.sessions, ports.clock)

    def _search_page(
        hits: list[SearchHit] | None, status: int = 200, query: str = ""
    ) -> tuple[str, int]:
        return render_template("beneficiaries.html", hits=hits, risk_text=RISK, query=query), status

    def _form_page(
        form: BeneficiaryForm,
        *,
        record: RecordView | None = None,
        errors: dict[str, str] | None = None,
        saved: bool = False,
        status: int = 200,
        issued: devices.IssuedSecret | None = None,
        device_error: str | None = None,
    ) -> tuple[str, int]:
        phones, windows = form.rows()
        context: dict[str, Any] = {
            "form": form,
            "phones": phones,
            "windows": windows,
            "record": record,
            "errors": {name: ERRORS[key] for name, key in (errors or {}).items()},
            "saved": saved,
            "lines": register.lines().values(),
            "locales": SUPPORTED_LOCALES,
            "risks": [level.value for level in RiskLevel],
            "risk_text": RISK,
            "phone_kinds": PHONE_KINDS,
            "phone_kind_text": PHONE_KIND_TEXT,
            "weekdays": WEEKDAY_TEXT,
            "cadences": CADENCES,
            "issued": issued,
            "device_error": device_error,
        }
        return render_template("beneficiary.html", **context), status

    @bp.get("/beneficiaries")
    @login_required(*CASEWORKER_ROLES)
    def search_page() -> tuple[str, int]:
        return _search_page(None)

    @bp.post("/beneficiaries/search")
    @login_required(*CASEWORKER_ROLES)
    def search() -> tuple[str, int]:
        check_csrf()
        query = request.form.get("query", "")
        return _search_page(register.search(query, g.agent_id), query=query)

    @bp.get("/beneficiaries/new")
    @login_required(*CASEWORKER_ROLES)
    def new() -> tuple[str, int]:
        return _form_page(register.blank_form())

    @bp.post("/beneficiaries")
    @login_required(*CASEWORKER_ROLES)
    def create() -> Response | tuple[str, int]:
        check_csrf()
        form = BeneficiaryForm.from_request(request.form)
        try:
            beneficiary_id = register.create(form, g.agent_id)
        except FormInvalid as exc:
            return _form_page(form.without_secrets(), errors=exc.errors, status=400)
        return redirect(url_for("beneficiaries.edit", beneficiary_id=beneficiary_id, saved=1), 303)

    @bp.get("/beneficiaries/<beneficiary_id>")
    @login_required(*CASEWORKER_ROLES)
    def edit(beneficiary_id: str) -> tuple[str, int]:
        try:
            record = register.record(beneficiary_id, g.agent_id)
        except UnknownBeneficiary:
            abort(404, description="no such beneficiary")
        return _form_page(record.form, record=record, saved=request.args.get("saved") == "1")

    @bp.post("/beneficiaries/<beneficiary_id>")
    @login_required(*CASEWORKER_ROLES)
    def update(beneficiary_id: str) -> Response | tuple[str, int]:
        check_csrf()
        form = BeneficiaryForm.from_request(request.form)
        try:
            register.update(beneficiary_id, form, g.agent_id)
        except UnknownBeneficiary:
            abort(404, description="no such beneficiary")
        except FormInvalid as exc:
            record = register.record(beneficiary_id, g.agent_id)
            shown = form.without_secrets().over(record.form)
            return _form_page(shown, record=record, errors=exc.errors, status=400)
        return redirect(url_for("beneficiaries.edit", beneficiary_id=beneficiary_id, saved=1), 303)

    # -- her panic-button devices ----------------------------------------------------------

    def _device_page(
        beneficiary_id: str,
        issued: devices.IssuedSecret | None = None,
        error: CheckinError | None = None,
    ) -> tuple[str, int]:
        """Her page again, with a new secret shown once (never stored in the page's URL)."""
        try:
            record = register.record(beneficiary_id, g.agent_id)
        except UnknownBeneficiary:
            abort(404, description="no such beneficiary")
        problem = DEVICE_ERRORS.get(error.error_id, DEVICE_ERROR) if error else None
        return _form_page(
            record.form,
            record=record,
            issued=issued,
            device_error=problem,
            status=400 if error else 200,
        )

    def _actor() -> devices.Actor:
        return devices.Actor("agent", g.agent_id)

    def _hers(beneficiary_id: str, serial: str) -> None:
        owned = [item.serial for item in devices.summaries(ports.sessions, beneficiary_id)]
        if serial not in owned:
            abort(404, description="no such device of hers")

    @bp.post("/beneficiaries/<beneficiary_id>/devices")
    @login_required(*CASEWORKER_ROLES)
    def add_device(beneficiary_id: str) -> tuple[str, int]:
        check_csrf()
        serial = request.form.get("serial", "").strip()
        number = request.form.get("number", "").strip()
        try:
            issued = devices.add(ports.sessions, _actor(), serial, beneficiary_id, number)
        except UnknownRecord:
            abort(404, description="no such beneficiary")
        except CheckinError as exc:
            return _device_page(beneficiary_id, error=exc)
        return _device_page(beneficiary_id, issued=issued)

    @bp.post("/beneficiaries/<beneficiary_id>/devices/<serial>/rotate")
    @login_required(*CASEWORKER_ROLES)
    def rotate_device(beneficiary_id: str, serial: str) -> tuple[str, int]:
        check_csrf()
        _hers(beneficiary_id, serial)
        try:
            issued = devices.rotate(ports.sessions, _actor(), serial)
        except CheckinError as exc:
            return _device_page(beneficiary_id, error=exc)
        return _device_page(beneficiary_id, issued=issued)

    @bp.post("/beneficiaries/<beneficiary_id>/devices/<serial>/revoke")
    @login_required(*CASEWORKER_ROLES)
    def revoke_device(beneficiary_id: str, serial: str) -> Response:
        check_csrf()
        _hers(beneficiary_id, serial)
        devices.revoke(ports.sessions, _actor(), serial)
        return redirect(url_for("beneficiaries.edit", beneficiary_id=beneficiary_id), 303)

    return bp
