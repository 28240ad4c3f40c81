"""Which synthetic voice speaks each supported locale, on Twilio and on the SIP endpoint.

Twilio ``<Say>`` takes a ``language`` and a ``voice`` (Amazon Polly or Google voices that Twilio
lists as supported). The SIP endpoint renders missing prompts with espeak-ng. Debian's
espeak-ng has no Galician voice: Galician prompts fall back to the Spanish voice (Galician
spelling reads acceptably with Spanish rules) until recorded prompts exist, and
:func:`voice_warnings` says so for ``amparo check``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from locales import SUPPORTED_LOCALES


@dataclass(frozen=True)
class LocaleVoice:
    locale: str
    native_name: str
    twilio_language: str
    twilio_voice: str
    espeak_voice: str
    espeak_fallback: bool = False
    direction: str = "ltr"


VOICES: Mapping[str, LocaleVoice] = {
    voice.locale: voice
    for voice in (
        LocaleVoice("es", "español", "es-ES", "Polly.Lucia-Neural", "es"),
        LocaleVoice("en", "English", "en-GB", "Polly.Amy-Neural", "en"),
        LocaleVoice("fr", "français", "fr-FR", "Polly.Lea-Neural", "fr"),
        LocaleVoice("ar", "العربية", "arb", "Polly.Zeina", "ar", direction="rtl"),
        LocaleVoice("ro", "română", "ro-RO", "Polly.Carmen", "ro"),
        LocaleVoice("pt", "português", "pt-PT", "Polly.Ines-Neural", "pt"),
        LocaleVoice("ca", "català", "ca-ES", "Polly.Arlet-Neural", "ca"),
        LocaleVoice("eu", "euskara", "eu-ES", "Google.eu-ES-Standard-A", "eu"),
        LocaleVoice("gl", "galego", "gl-ES", "Google.gl-ES-Standard-A", "es", espeak_fallback=True),
        LocaleVoice("zh", "中文", "cmn-CN", "Polly.Zhiyu-Neural", "cmn"),
        LocaleVoice("uk", "українська", "uk-UA", "Google.uk-UA-Standard-A", "uk"),
        LocaleVoice("ru", "русский", "ru-RU", "Polly.Tatyana", "ru"),
    )
}

RTL_LANGUAGES = frozenset({"ar", "he", "fa", "ur"})


def voice_for(locale: str) -> LocaleVoice:
    """The voice of ``locale``; an unknown locale gets the Spanish voice rather than silence."""
    return VOICES.get(locale, VOICES["es"])


def text_direction(locale: str) -> str:
    """``"rtl"`` for right-to-left scripts (Arabic), else ``"ltr"``: for the console's dir=."""
    language = locale.replace("-", "_").split("_", 1)[0].lower()
    return "rtl" if language in RTL_LANGUAGES else "ltr"


def voice_warnings() -> list[str]:
    """Human-readable notes for ``amparo check``: locales without a voice of their own."""
    warnings = []
    for locale in SUPPORTED_LOCALES:
        voice = VOICES.get(locale)
        if voice is None:
            warnings.append(f"{locale}: no voice configured; prompts use the Spanish voice")
        elif voice.espeak_fallback:
            warnings.append(
                f"{locale}: espeak-ng has no {voice.native_name} voice; SIP prompts use the "
                f"'{voice.espeak_voice}' voice until recorded prompts are provided"
            )
    return warnings
