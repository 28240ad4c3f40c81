"""Re-encrypt every personal field under the current data key and recompute lookup hashes.

Run after setting a new ``AMPARO_DATA_KEY`` with the old one in ``AMPARO_DATA_KEY_PREVIOUS``;
once it reports zero fields left on old keys, the previous key can be retired.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, column, select, table, update

from store import crypto
from store.base import Base, Encrypted

# (table, encrypted clear-number column, hash column): hashes derive from the data key.
_LOOKUP_HASHES = (
    ("beneficiary_phones", "number", "number_hash"),
    ("devices", "number", "number_hash"),
    ("calls", "caller_number", "caller_hash"),
)


@dataclass
class RotationReport:
    fields_rewritten: int = 0
    hashes_rewritten: int = 0


def encrypted_columns() -> dict[str, list[tuple[str, str]]]:
    """Map table name -> [(column, purpose)] for every Encrypted column of the model."""
    found: dict[str, list[tuple[str, str]]] = {}
    for name, tbl in Base.metadata.tables.items():
        for col in tbl.columns:
            if isinstance(col.type, Encrypted):
                found.setdefault(name, []).append((col.name, col.type.purpose))
    return found


def rotate(engine: Engine) -> RotationReport:
    cipher = crypto.active()
    report = RotationReport()
    hash_columns = {(t, c): h for t, c, h in _LOOKUP_HASHES}
    with engine.begin() as conn:
        for table_name, cols in encrypted_columns().items():
            pk = next(iter(Base.metadata.tables[table_name].primary_key.columns)).name
            names = [name for name, _ in cols]
            extra = [
                hash_columns[(table_name, n)] for n in names if (table_name, n) in hash_columns
            ]
            raw = table(table_name, *(column(n) for n in [pk, *names, *extra]))
            rows = conn.execute(select(raw)).mappings().all()
            for row in rows:
                changes: dict[str, str] = {}
                for name, purpose in cols:
                    token = row[name]
                    if token is None:
                        continue
                    clear = cipher.decrypt(token, purpose)
                    if cipher.needs_rotation(token):
                        changes[name] = cipher.encrypt(clear, purpose)
                        report.fields_rewritten += 1
                    hash_col = hash_columns.get((table_name, name))
                    if hash_col is not None:
                        fresh = cipher.lookup_hash(clear)
                        if row[hash_col] != fresh:
                            changes[hash_col] = fresh
                            report.hashes_rewritten += 1
                if changes:
                    conn.execute(update(raw).where(raw.c[pk] == row[pk]).values(**changes))
    return report
