"""The rules of a call's outcome, before anything is written."""

from __future__ import annotations

import pytest

from calls.errors import InvalidOutcome
from calls.outcome import MAX_NOTES, MAX_REASON, CallOutcome, Disposition
from store.vocabulary import RiskLevel


def test_a_valid_outcome_keeps_what_the_person_chose() -> None:
    outcome = CallOutcome.checked("referred", "notes", "alto", "  saw her file  ")
    assert outcome == CallOutcome(Disposition.REFERRED, "notes", RiskLevel.ALTO, "saw her file")


def test_no_risk_chosen_means_the_standing_risk_and_a_blank_reason_is_none() -> None:
    outcome = CallOutcome.checked("information", "", None, "   ")
    assert outcome.risk is None and outcome.risk_reason is None


@pytest.mark.parametrize(
    ("disposition", "notes", "risk", "error_id"),
    [
        ("hung_up_angry", "", None, "console.bad_disposition"),
        ("information", "x" * (MAX_NOTES + 1), None, "console.notes_too_long"),
        ("information", "", "very_high", "console.bad_risk"),
    ],
)
def test_bad_input_is_refused_with_a_stable_error_id(
    disposition: str, notes: str, risk: str | None, error_id: str
) -> None:
    with pytest.raises(InvalidOutcome) as refused:
        CallOutcome.checked(disposition, notes, risk, None)
    assert refused.value.error_id == error_id


def test_a_long_reason_is_cut_to_its_limit() -> None:
    outcome = CallOutcome.checked("information", "", "bajo", "r" * (MAX_REASON + 50))
    assert outcome.risk_reason == "r" * MAX_REASON
