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
from checkins.register import PHONE_KINDS
from locales.markers import N_
from locales.ui_strings import RISK
from settings import SUPPORTED_LOCALES
from store.vocabulary import RiskLevel
from web.csrf import check_csrf
from web.guard import login_required

CASEWORKER_ROLES = ("supervisor", "admin")
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

    def _search_page(hits: list[SearchHit] | None, status: int = 200) -> tuple[str, int]:
        return render_template("beneficiaries.html", hits=hits, risk_text=RISK), status

    def _form_page(
        form: BeneficiaryForm,
        *,
        record: RecordView | None = None,
        errors: dict[str, str] | None = None,
        saved: bool = False,
        status: int = 200,
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
        return _search_page(register.search(request.form.get("query", ""), g.agent_id))

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

    return bp
