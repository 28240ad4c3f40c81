"""Reading a location out of a text message: ``40.4168,-3.7038``, ``geo:40.4,-3.7``, or the
coordinates inside a maps link (Google ``q=``/``ll=``/``query=``/``@lat,lon``, Apple
``ll=``/``q=``, OpenStreetMap ``mlat=&mlon=`` or ``#map=z/lat/lon``)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote

_NUMBER = r"[-+]?\d{1,3}(?:\.\d+)?"
_PAIR = rf"({_NUMBER})\s*[,;]\s*({_NUMBER})"
_PATTERNS = (
    re.compile(rf"geo:{_PAIR}", re.IGNORECASE),
    re.compile(rf"[?&](?:q|ll|sll|query|daddr|destination)=(?:loc:)?{_PAIR}", re.IGNORECASE),
    re.compile(rf"/@{_PAIR}"),
    re.compile(rf"mlat=({_NUMBER})&(?:amp;)?mlon=({_NUMBER})", re.IGNORECASE),
    re.compile(rf"#map=\d{{1,2}}/({_NUMBER})/({_NUMBER})"),
    re.compile(rf"(?<![\w.]){_PAIR}(?![\w.])"),
)


@dataclass(frozen=True)
class Location:
    latitude: float
    longitude: float


def valid(latitude: float, longitude: float) -> bool:
    return -90.0 <= latitude <= 90.0 and -180.0 <= longitude <= 180.0


def find_location(text: str) -> Location | None:
    """The first plausible coordinates in ``text`` (None when there are none)."""
    clean = unquote(text or "")
    for pattern in _PATTERNS:
        for match in pattern.finditer(clean):
            latitude, longitude = float(match.group(1)), float(match.group(2))
            if valid(latitude, longitude) and "." in match.group(1) + match.group(2):
                return Location(latitude, longitude)
    return None
