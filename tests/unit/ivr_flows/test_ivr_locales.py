"""Catalogs complete in 12+ languages, language selection, voices and text direction."""

from __future__ import annotations

import io
import re
import shutil
from pathlib import Path

import pytest
from babel.messages.pofile import read_po, write_po

from ivr_flows import BUILTIN_FLOWS, load_builtin
from locales import LOCALES_DIR, SUPPORTED_LOCALES
from locales.catalogs import check_catalogs, compiled_bytes, extract, po_path
from locales.extract import extract_flow_messages
from locales.prompts import message_ids, placeholders, prompt_text, ui_text
from locales.selection import choose_locale, locale_hint_for_number, normalize_locale
from locales.voices import VOICES, text_direction, voice_for, voice_warnings

REQUIRED = {"es", "en", "fr", "ar", "ro", "pt", "ca", "eu", "gl", "zh", "uk", "ru"}
SCRIPTS = {
    "ar": re.compile(r"[\u0600-\u06ff]"),
    "zh": re.compile(r"[\u4e00-\u9fff]"),
    "uk": re.compile(r"[\u0400-\u04ff]"),
    "ru": re.compile(r"[\u0400-\u04ff]"),
}


def test_at_least_twelve_languages_including_the_required_ones() -> None:
    assert set(SUPPORTED_LOCALES) >= REQUIRED
    assert len(SUPPORTED_LOCALES) >= 12


def test_every_catalog_is_complete_current_and_consistent() -> None:
    problems = check_catalogs()
    assert not problems, "\n".join(str(problem) for problem in problems)


def test_every_prompt_a_flow_speaks_exists_with_its_parameters() -> None:
    known = message_ids()
    for name in BUILTIN_FLOWS:
        for state in load_builtin(name).states.values():
            for prompt in state.properties.messages:
                assert prompt.message_id in known, (name, state.name, prompt.message_id)
                wanted = placeholders(prompt_text(prompt.message_id, "en", {}))
                assert wanted == set(prompt.params), (name, state.name, prompt.message_id)


def test_extraction_covers_flow_files_and_code() -> None:
    ids = {m.id for m in extract("prompts") if m.id}
    assert {"triage.safe_to_talk", "checkin.cover", "language.option"} <= ids
    assert {"recording.notice", "recording.notice_consent"} <= ids  # marked in code


def test_the_flow_extractor_yields_keys_with_the_state_as_comment() -> None:
    text = b'{"states": [{"name": "ask", "properties": {"messages": [{"message_id": "a.b"}],\n'
    text += b'"invalid_message": "common.invalid_key"}}]}'
    found = list(extract_flow_messages(io.BytesIO(text), {}, (), {}))
    assert [(m, c) for _l, _f, m, c in found] == [
        ("a.b", ["flow state: ask"]),
        ("common.invalid_key", ["flow state: ask"]),
    ]


def _break_catalog(base: Path, locale: str, change: str) -> None:
    path = po_path("prompts", locale, base)
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=locale)
    entry = catalog.get("language.option")
    assert entry is not None
    if change == "fuzzy":
        entry.flags.add("fuzzy")
    elif change == "placeholder":
        entry.string = "Pour le français, appuyez sur {chiffre}."
    elif change == "missing":
        entry.string = ""
    buffer = io.BytesIO()
    write_po(buffer, catalog)
    path.write_bytes(buffer.getvalue())
    path.with_suffix(".mo").write_bytes(compiled_bytes(catalog))


@pytest.mark.parametrize(
    ("change", "error_id"),
    [
        ("fuzzy", "locales.fuzzy"),
        ("placeholder", "locales.placeholder_mismatch"),
        ("missing", "locales.missing"),
    ],
)
def test_the_catalog_check_fails_on_a_bad_entry(tmp_path: Path, change: str, error_id: str) -> None:
    base = tmp_path / "locales"
    shutil.copytree(LOCALES_DIR, base, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    _break_catalog(base, "fr", change)
    problems = check_catalogs(["prompts"], base)
    assert (error_id, "fr", "language.option") in {
        (p.error_id, p.locale, p.message_id) for p in problems
    }


def test_the_catalog_check_fails_on_a_stale_compiled_file(tmp_path: Path) -> None:
    base = tmp_path / "locales"
    shutil.copytree(LOCALES_DIR, base, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    (base / "gl" / "LC_MESSAGES" / "prompts.mo").unlink()
    problems = check_catalogs(["prompts"], base)
    assert ("locales.stale_mo", "gl") in {(p.error_id, p.locale) for p in problems}


@pytest.mark.parametrize("locale", sorted(SCRIPTS))
def test_non_latin_catalogs_are_written_in_their_own_script(locale: str) -> None:
    for message_id in sorted(message_ids()):
        assert SCRIPTS[locale].search(prompt_text(message_id, locale)), (locale, message_id)


def test_ukrainian_and_russian_are_different_translations() -> None:
    same = [m for m in message_ids() if prompt_text(m, "uk") == prompt_text(m, "ru")]
    assert not same


@pytest.mark.parametrize("locale", sorted(REQUIRED))
def test_prompts_stay_short_for_a_frightened_caller(locale: str) -> None:
    for message_id in message_ids():
        text = prompt_text(message_id, locale, {"digit": "1"})
        assert len(text) <= 200, (locale, message_id, len(text))
        assert text.count(".") + text.count("。") + text.count("?") <= 6


def test_prompt_text_fills_parameters_and_falls_back_to_english() -> None:
    assert prompt_text("language.option", "fr", {"digit": "3"}) == (
        "Pour le français, appuyez sur 3."
    )
    assert prompt_text("language.option", "ar", {"digit": "4"}).endswith("4.")
    assert prompt_text("triage.injured", "tlh") == prompt_text("triage.injured", "en")
    assert prompt_text("language.option", "en") == "For English, press {digit}."


def test_console_strings_exist_in_spanish_and_english() -> None:
    assert ui_text("console.sign_in", "es") == "Iniciar sesión"
    assert ui_text("console.presence.break", "en") == "On a break"
    assert ui_text("console.risk.extremo", "fr") == "Extreme"  # English until translated


@pytest.mark.parametrize(
    ("number", "locale"),
    [
        ("+212612345678", "ar"),
        ("+40721234567", "ro"),
        ("+8613812345678", "zh"),
        ("+380501234567", "uk"),
        ("+79161234567", "ru"),
        ("+33612345678", "fr"),
        ("+447911123456", "en"),
        ("+351912345678", "pt"),
        ("+5511912345678", "pt"),
        ("+34612345678", "es"),
        ("+376312345", "ca"),
        ("+4915112345678", None),
        ("+447700900123", "en"),  # a drama number: the country code is enough
        ("not a number", None),
        (None, None),
    ],
)
def test_a_language_hint_comes_from_the_callers_number_region(
    number: str | None, locale: str | None
) -> None:
    assert locale_hint_for_number(number) == locale


def test_choose_locale_prefers_the_beneficiary_then_the_number_then_the_line() -> None:
    assert choose_locale("fr", "ar", "es") == "fr"
    assert choose_locale(None, "ar", "es") == "ar"
    assert choose_locale("tlh", None, "ca") == "ca"
    assert choose_locale(None, None, None) == "es"
    assert choose_locale("pt_BR", None, "es") == "pt"
    assert normalize_locale("zh-Hant") == "zh"


def test_every_locale_names_a_twilio_voice_and_an_espeak_voice() -> None:
    assert set(VOICES) == set(SUPPORTED_LOCALES)
    for voice in VOICES.values():
        assert voice.twilio_language and voice.twilio_voice.split(".")[0] in {"Polly", "Google"}
        assert voice.espeak_voice
    assert voice_for("eu").twilio_language == "eu-ES"
    assert voice_for("tlh") == VOICES["es"]


def test_galician_has_a_stated_espeak_fallback_that_check_reports() -> None:
    assert VOICES["gl"].espeak_fallback and VOICES["gl"].espeak_voice == "es"
    assert [w for w in voice_warnings() if w.startswith("gl:")]
    assert not [w for w in voice_warnings() if w.startswith("es:")]


def test_text_direction_is_right_to_left_for_arabic_only() -> None:
    assert text_direction("ar") == "rtl"
    assert text_direction("ar_MA") == "rtl"
    assert VOICES["ar"].direction == "rtl"
    assert {text_direction(loc) for loc in SUPPORTED_LOCALES if loc != "ar"} == {"ltr"}
