"""What every way of registering a beneficiary shares (the console's register and the
integration API): field limits, phone kinds, and how her phone numbers are kept.

A number is kept only encrypted with its lookup hash, and one number belongs to one woman
(or one device): the switchboard must recognise her by it.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.models import Beneficiary, BeneficiaryPhone, Device
from store.phone_numbers import lookup_hash

PHONE_KINDS = ("primary", "safe_alternative")
MAX_PHONES = 6
MAX_SHORT = 200
MAX_LONG = 4000
MAX_REFERENCE = 32


def numbers_taken(db: Session, hashes: set[str], owner_id: str) -> set[str]:
    """The lookup hashes among ``hashes`` registered to another beneficiary or to a device
    that is not hers."""
    taken = set(
        db.scalars(
            select(BeneficiaryPhone.number_hash).where(
                BeneficiaryPhone.number_hash.in_(hashes),
                BeneficiaryPhone.beneficiary_id != owner_id,
            )
        )
    )
    taken |= set(
        db.scalars(
            select(Device.number_hash).where(
                Device.number_hash.in_(hashes), Device.beneficiary_id != owner_id
            )
        )
    )
    return taken


def assign_phones(
    db: Session, row: Beneficiary, wanted: list[tuple[str, str]]
) -> tuple[bool, list[int]]:
    """Keep the rows of numbers still listed (their kind updated), add new ones, drop the rest.

    Args:
        wanted: ``(E.164, kind)`` pairs, each number once.

    Returns:
        Whether her phones changed, and the indexes in ``wanted`` of numbers registered to
        someone else (then nothing is changed).
    """
    by_hash = {lookup_hash(e164): (index, e164, kind) for index, (e164, kind) in enumerate(wanted)}
    taken = numbers_taken(db, set(by_hash), row.id or "")
    if taken:
        return False, sorted(by_hash[digest][0] for digest in taken)
    changed = False
    for phone in list(row.phones):
        if phone.number_hash not in by_hash:
            row.phones.remove(phone)
            changed = True
        elif phone.kind != by_hash[phone.number_hash][2]:
            phone.kind = by_hash[phone.number_hash][2]
            changed = True
    kept = {phone.number_hash for phone in row.phones}
    for digest, (_index, e164, kind) in by_hash.items():
        if digest not in kept:
            row.phones.append(BeneficiaryPhone(kind=kind, number=e164, number_hash=digest))
            changed = True
    return changed, []


def phones_of(row: Beneficiary) -> list[tuple[str, str]]:
    """Her numbers as ``(E.164, kind)``, the primary first."""
    return [
        (phone.number, phone.kind)
        for phone in sorted(row.phones, key=lambda p: (p.kind != "primary", p.id or 0))
    ]
