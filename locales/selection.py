"""Which language to greet a caller in, before she chooses one from the menu.

Order: the known beneficiary's preference, else a hint from the caller's number (its region's
languages per CLDR, via phonenumbers and babel), else the line's default. The menu is always
offered afterwards, so a wrong guess costs one key press.
"""

from __future__ import annotations

import phonenumbers
from babel.languages import get_official_languages

from locales import SUPPORTED_LOCALES


def normalize_locale(value: str | None) -> str | None:
    """``"es_ES"``, ``"pt-BR"`` or ``"zh_Hant"`` -> a supported language code, else None."""
    if not value:
        return None
    language = value.replace("-", "_").split("_", 1)[0].strip().lower()
    return language if language in SUPPORTED_LOCALES else None


def locale_hint_for_number(e164: str | None) -> str | None:
    """The first supported official language of the number's region, or None.

    Only the region is used; the number itself is never stored or logged.
    """
    if not e164:
        return None
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return None
    region = phonenumbers.region_code_for_number(number) or (
        phonenumbers.region_code_for_country_code(number.country_code or 0)
    )
    if not region or region == "ZZ":
        return None
    for regional in (False, True):
        for language in get_official_languages(region, regional=regional, de_facto=True):
            locale = normalize_locale(language)
            if locale:
                return locale
    return None


def choose_locale(
    beneficiary_pref: str | None, number_hint: str | None, line_default: str | None
) -> str:
    """First supported of: preference, number hint, line default; ``es`` as the last resort."""
    for candidate in (beneficiary_pref, number_hint, line_default):
        locale = normalize_locale(candidate)
        if locale:
            return locale
    return "es"
