"""Flow files: good examples load, each bad example fails with the error it is about."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from ivr_flows import BUILTIN_FLOWS, load, load_builtin
from ivr_flows.cli import flows
from ivr_flows.errors import FlowInvalid
from ivr_flows.flows import check_text
from ivr_flows.validation import schema

DATA = Path(__file__).resolve().parents[2] / "data" / "flows"
GOOD = sorted((DATA / "good").glob("*.json"))
BAD = sorted((DATA / "bad").glob("*.json"))
EXPECTED = json.loads((DATA / "bad_expected.json").read_text(encoding="utf-8"))


def test_every_bad_example_states_the_error_it_expects() -> None:
    assert sorted(path.stem for path in BAD) == sorted(EXPECTED)


@pytest.mark.parametrize("path", GOOD, ids=lambda p: p.stem)
def test_good_flow_examples_load(path: Path) -> None:
    flow = load(path)
    assert flow.name == path.stem
    assert flow.trigger.type.value == "trigger"


@pytest.mark.parametrize("path", BAD, ids=lambda p: p.stem)
def test_bad_flow_example_fails_with_its_expected_error(path: Path) -> None:
    expected = EXPECTED[path.stem]
    with pytest.raises(FlowInvalid) as failure:
        load(path)
    found = {(problem.error_id, problem.state) for problem in failure.value.problems}
    assert (expected["error_id"], expected["state"]) in found, found


@pytest.mark.parametrize("name", BUILTIN_FLOWS)
def test_builtin_flows_are_valid(name: str) -> None:
    assert load_builtin(name).name == name


def test_loaded_flows_are_frozen() -> None:
    flow = load_builtin("inbound_triage")
    with pytest.raises(AttributeError):
        flow.initial_state = "somewhere"  # type: ignore[misc]


def test_the_schema_forbids_unknown_keys_everywhere() -> None:
    state_schema = schema()["$defs"]["state"]
    assert schema()["additionalProperties"] is False
    assert state_schema["additionalProperties"] is False
    assert schema()["$defs"]["transition"]["additionalProperties"] is False


def test_a_flow_file_cannot_smuggle_code_in_any_string() -> None:
    text = (DATA / "good" / "one_question_inbound.json").read_text(encoding="utf-8")
    text = text.replace("Smallest safe inbound flow", "{% import os %} flow")
    flow, problems = check_text("smuggled", text)
    assert flow is None
    assert "flow.template" in {problem.error_id for problem in problems}


def test_flows_check_cli_passes_on_builtin_flows() -> None:
    result = CliRunner().invoke(flows, ["check"])
    assert result.exit_code == 0, result.output
    assert result.output.count(": ok") == len(BUILTIN_FLOWS)


def test_flows_check_cli_prints_state_and_message_and_fails() -> None:
    bad = DATA / "bad" / "gather_without_timeout.json"
    good = DATA / "good" / "one_question_inbound.json"
    result = CliRunner().invoke(flows, ["check", str(good), str(bad)])
    assert result.exit_code == 1
    assert f"{bad}: state ask: gather needs a 'timeout' transition" in result.output
    assert f"{good}: ok" in result.output


def test_flows_check_cli_reports_unreadable_json_without_a_state() -> None:
    bad = DATA / "bad" / "not_json.json"
    result = CliRunner().invoke(flows, ["check", str(bad)])
    assert result.exit_code == 1
    assert f"{bad}: not JSON" in result.output
