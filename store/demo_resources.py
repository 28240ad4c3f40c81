"""Fictional resources for the demo lines and the tests' hotline (police, health, shelters,
CAVI, legal and psychological help), by the jurisdiction of the line they serve. A service
configures its own with ``[[resources]]`` in its hotline file."""

from __future__ import annotations

from store.models import Resource

# (jurisdiction, name, kind, municipality, latitude, longitude, phone)
FICTIONAL_RESOURCES: tuple[tuple[str, str, str, str, float | None, float | None, str], ...] = (
    ("ES", "Comisaría Centro (ficticia)", "police", "Madrid", 40.4169, -3.7035, "+34900100001"),
    ("ES", "Comisaría Chamberí (ficticia)", "police", "Madrid", 40.434, -3.704, "+34900100002"),
    ("ES", "Comisaría Vallecas (ficticia)", "police", "Madrid", 40.392, -3.659, "+34900100003"),
    (
        "ES",
        "Comisaría Barcelona Eixample (ficticia)",
        "police",
        "Barcelona",
        41.39,
        2.162,
        "+34900100004",
    ),
    ("ES", "Casa de acogida Norte (ficticia)", "shelter", "Madrid", 40.45, -3.69, "+34900100011"),
    ("ES", "Casa de acogida Sur (ficticia)", "shelter", "Madrid", 40.38, -3.72, "+34900100012"),
    (
        "ES",
        "Centro de emergencia Barcelona (ficticio)",
        "shelter",
        "Barcelona",
        41.403,
        2.174,
        "+34900100013",
    ),
    (
        "ES",
        "Centro de salud Lavapiés (ficticio)",
        "health",
        "Madrid",
        40.4086,
        -3.7008,
        "+34900100021",
    ),
    ("ES", "Hospital General (ficticio)", "health", "Madrid", 40.418, -3.67, "+34900100022"),
    ("ES", "Hospital del Mar (ficticio)", "health", "Barcelona", 41.384, 2.194, "+34900100023"),
    (
        "PE",
        "Comisaría Cercado de Lima (ficticia)",
        "police",
        "Lima",
        -12.0464,
        -77.0428,
        "+5110000201",
    ),
    ("PE", "Comisaría Miraflores (ficticia)", "police", "Lima", -12.1211, -77.0297, "+5110000202"),
    (
        "PE",
        "Hogar de refugio temporal Lima (ficticio)",
        "shelter",
        "Lima",
        -12.07,
        -77.035,
        "+5110000211",
    ),
    (
        "PE",
        "Centro de Emergencia Mujer San Juan (ficticio)",
        "shelter",
        "Lima",
        -12.15,
        -76.98,
        "+5110000212",
    ),
    ("PE", "Hospital Nacional (ficticio)", "health", "Lima", -12.056, -77.039, "+5110000221"),
    (
        "PE",
        "Centro de salud Surquillo (ficticio)",
        "health",
        "Lima",
        -12.112,
        -77.014,
        "+5110000222",
    ),
    ("ES", "CAVI Madrid Centro (ficticio)", "cavi", "Madrid", 40.42, -3.7, "+34900100031"),
    ("ES", "Asesoría jurídica Madrid (ficticia)", "legal", "Madrid", None, None, "+34900100041"),
    (
        "ES",
        "Atención psicológica Madrid (ficticia)",
        "psychological",
        "Madrid",
        None,
        None,
        "+34900100051",
    ),
    (
        "PE",
        "Centro Emergencia Mujer Lima (ficticio)",
        "cavi",
        "Lima",
        -12.05,
        -77.04,
        "+5110000231",
    ),
)


def fictional_resources(line_id: str, jurisdiction: str) -> list[Resource]:
    """The fictional resources of ``jurisdiction``, as rows of the line ``line_id``."""
    return [
        Resource(
            line_id=line_id,
            name=name,
            kind=kind,
            municipality=municipality,
            latitude=latitude,
            longitude=longitude,
            phone=phone,
            active=True,
        )
        for where, name, kind, municipality, latitude, longitude, phone in FICTIONAL_RESOURCES
        if where == jurisdiction
    ]
