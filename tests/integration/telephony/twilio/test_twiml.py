"""The one renderer, read back as Twilio reads it: every action, and no document that ends
without a human, a hang-up or a redirect."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from urllib.parse import parse_qs, urlsplit

import pytest

from calls.directory import LineInfo
from calls.turn import CallTurn
from ivr_flows.actions import (
    Action,
    Dial,
    Enqueue,
    Escalate,
    Gather,
    Hangup,
    Play,
    Record,
    Say,
    SetLocale,
)
from ivr_flows.state import CallFlag
from locales.prompts import prompt_text
from store.vocabulary import RiskLevel
from telephony.twilio import twiml
from telephony.twilio.links import HoldMode, Links

LINE = LineInfo(
    line_id="line1",
    name="Test",
    number="+34910000001",
    default_locale="es",
    jurisdiction="ES",
    flow="inbound_triage",
    overflow_number="+34900000002",
    urgent_number="+34900000003",
    urgent_team_id="team1",
)
LINKS = Links("https://hotline.example.org").for_call("call1", "line1", 3)
ENDINGS = {"Gather", "Enqueue", "Dial", "Hangup", "Redirect", "Leave"}


def parse(document: str) -> ET.Element:
    root = ET.fromstring(document)  # noqa: S314  (our own renderer's output)
    assert root.tag == "Response"
    return root


def render(*actions: Action, line: LineInfo | None = LINE, **options: object) -> ET.Element:
    return parse(twiml.render(CallTurn("call1", line, tuple(actions)), LINKS, **options))  # type: ignore[arg-type]


def query(url: str | None) -> dict[str, str]:
    assert url
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def test_a_gather_plays_its_prompts_inside_and_always_comes_back_to_the_next_step() -> None:
    root = render(
        Say("triage.welcome", "ar"),
        Gather(1, 8.0, prompts=(Say("triage.safe_to_talk", "ar"),)),
    )
    say, gather, redirect = list(root)
    assert say.get("language") == "arb" and say.get("voice") == "Polly.Zeina"
    assert say.text == prompt_text("triage.welcome", "ar")
    assert gather.get("input") == "dtmf" and gather.get("numDigits") == "1"
    assert gather.get("actionOnEmptyResult") == "true" and gather.get("finishOnKey") == ""
    assert gather.get("timeout") == "8"
    assert [p.text for p in gather] == [prompt_text("triage.safe_to_talk", "ar")]
    assert query(gather.get("action")) == {"call": "call1", "line": "line1", "turn": "4"}
    assert redirect.tag == "Redirect"
    assert query(redirect.text) == {"call": "call1", "line": "line1", "turn": "4", "silence": "1"}


def test_a_pin_gather_keeps_its_finish_key_and_its_url_says_nothing_of_the_pin() -> None:
    """The switchboard knows a PIN prompt from the flow's state, not from the URL."""
    root = render(Gather(8, 10.0, finish_on_key="#", secret=True))
    gather = root.find("Gather")
    assert gather is not None and gather.get("finishOnKey") == "#"
    assert set(query(gather.get("action"))) == {"call", "line", "turn"}


def test_enqueue_waits_in_the_lines_queue_with_our_hold_document() -> None:
    root = render(
        Say("triage.connecting", "en"),
        Enqueue("general", 10, RiskLevel.BAJO, locale="en"),
    )
    enqueue = root.find("Enqueue")
    assert enqueue is not None and enqueue.text == "amparo-line1"
    assert query(enqueue.get("waitUrl")) == {
        "call": "call1",
        "line": "line1",
        "locale": "en",
        "mode": "standard",
    }
    assert urlsplit(enqueue.get("action")).path == "/twilio/voice/queue-result"
    assert list(root)[-1].tag == "Redirect"


@pytest.mark.parametrize(
    ("flags", "mode"),
    [
        (frozenset(), HoldMode.URGENT),
        (frozenset({CallFlag.SILENT}), HoldMode.QUIET),
        (frozenset({CallFlag.DEVICE_ALARM}), HoldMode.QUIET),
    ],
)
def test_an_escalation_that_connects_the_caller_holds_her_urgently_or_quietly(
    flags: frozenset[CallFlag], mode: HoldMode
) -> None:
    root = render(Escalate("urgent", "severe", RiskLevel.EXTREMO, 100, flags=flags))
    enqueue = root.find("Enqueue")
    assert enqueue is not None and query(enqueue.get("waitUrl"))["mode"] == mode.value


def test_a_duress_escalation_changes_nothing_the_caller_hears() -> None:
    root = render(
        Escalate("urgent", "duress", RiskLevel.EXTREMO, 100, connect_caller=False),
        Gather(1, 8.0, prompts=(Say("checkin.menu", "es"),)),
    )
    assert [verb.tag for verb in root] == ["Gather", "Redirect"]


def test_dial_rings_the_lines_number_for_the_target_and_tries_the_next_when_unanswered() -> None:
    root = render(Dial("urgent"), record=True)
    dial = root.find("Dial")
    assert dial is not None and [n.text for n in dial] == ["+34900000003"]
    assert query(dial.get("action")) == {
        "call": "call1",
        "line": "line1",
        "target": "urgent",
        "attempt": "0",
    }
    assert dial.get("record") == "record-from-answer-dual"
    assert urlsplit(dial.get("recordingStatusCallback")).path == "/twilio/voice/recording"
    assert list(root)[-1].tag == "Redirect"


def test_a_dial_without_a_known_line_rings_the_fallback_number() -> None:
    root = render(Dial("fallback"), line=None, fallback_number="+34900000009")
    dial = root.find("Dial")
    assert dial is not None and [n.text for n in dial] == ["+34900000009"]
    assert dial.get("record") is None


def test_with_no_number_at_all_the_call_is_kept_open_and_retried() -> None:
    root = render(Dial("fallback"), line=None)
    assert [verb.tag for verb in root] == ["Pause", "Redirect"]
    assert urlsplit(root[1].text).path == "/twilio/voice/fallback"


def test_record_and_set_locale_render_nothing_and_a_turn_without_an_end_redirects() -> None:
    root = render(SetLocale("fr"), Record("ES:inbound"), Say("recording.notice", "fr"))
    assert [verb.tag for verb in root] == ["Say", "Redirect"]
    assert urlsplit(root[1].text).path == "/twilio/voice/fallback"


def test_an_empty_turn_still_goes_somewhere_safe() -> None:
    root = render()
    assert [verb.tag for verb in root] == ["Redirect"]


def test_hangup_ends_the_document_and_anything_after_it_is_dropped() -> None:
    root = render(Say("checkin.cover", "es"), Hangup("not_verified"), Say("triage.welcome", "es"))
    assert [verb.tag for verb in root] == ["Say", "Hangup"]


def test_play_uses_our_own_media_and_skips_prompts_it_does_not_have() -> None:
    root = render(Play("hold_music"), Play("no_such_prompt"), Hangup("done"))
    assert [verb.tag for verb in root] == ["Play", "Hangup"]
    assert root[0].text == "https://hotline.example.org/twilio/media/hold.wav"


@pytest.mark.parametrize(
    ("mode", "position", "message"),
    [
        (HoldMode.STANDARD, 1, "queue.next"),
        (HoldMode.STANDARD, 4, "queue.position"),
        (HoldMode.STANDARD, None, "queue.waiting"),
        (HoldMode.URGENT, 3, "triage.connecting_urgent"),
    ],
)
def test_hold_announces_in_the_callers_language_then_plays_music(
    mode: HoldMode, position: int | None, message: str
) -> None:
    root = parse(twiml.hold_document("uk", mode, position, LINKS))
    say, play = list(root)
    params = {"position": str(position)} if message == "queue.position" else {}
    assert say.text == prompt_text(message, "uk", params) and say.get("language") == "uk-UA"
    assert play.text == LINKS.hold_media() and play.get("loop") == "3"


def test_quiet_hold_says_and_plays_nothing() -> None:
    root = parse(twiml.hold_document("es", HoldMode.QUIET, 1, LINKS))
    assert [verb.tag for verb in root] == ["Pause"]


def test_the_bridge_waits_in_a_conference_named_after_the_call_and_records_when_asked() -> None:
    root = parse(twiml.conference_document(LINKS, "call1", record=True))
    dial = root.find("Dial")
    assert dial is not None and urlsplit(dial.get("action")).path == "/twilio/voice/bridge-ended"
    conference = dial.find("Conference")
    assert conference is not None and conference.text == "call1"
    assert conference.get("startConferenceOnEnter") == "false"
    assert conference.get("endConferenceOnExit") == "true"
    assert conference.get("record") == "record-from-start"
    assert conference.get("waitUrl") == LINKS.hold_media()


def test_every_document_ends_with_a_human_a_hangup_or_a_redirect() -> None:
    turns: list[tuple[Action, ...]] = [
        (),
        (Say("triage.welcome", "es"),),
        (Gather(1, 5.0),),
        (Enqueue("general", 1, RiskLevel.BAJO),),
        (Escalate("urgent", "x", RiskLevel.ALTO, 50),),
        (Escalate("urgent", "x", RiskLevel.ALTO, 50, connect_caller=False),),
        (Dial("fallback"),),
        (Hangup("done"),),
        (Record("p"), SetLocale("en")),
    ]
    for actions in turns:
        for line in (LINE, None):
            root = render(*actions, line=line)
            assert list(root)[-1].tag in ENDINGS, actions


def test_hold_music_is_a_valid_wav_of_telephone_quality() -> None:
    import io
    import wave

    from telephony.twilio.media import hold_music_wav

    with wave.open(io.BytesIO(hold_music_wav())) as audio:
        assert audio.getframerate() == 8000 and audio.getnchannels() == 1
        assert 6 <= audio.getnframes() / 8000 <= 10
