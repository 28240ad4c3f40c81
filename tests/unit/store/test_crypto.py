import os

import pytest

from store.crypto import DecryptionError, FieldCipher, key_id_of


def test_round_trip_and_purpose_binding() -> None:
    cipher = FieldCipher(os.urandom(32))
    token = cipher.encrypt("Ana García", "beneficiary.full_name")
    assert "Ana" not in token
    assert cipher.decrypt(token, "beneficiary.full_name") == "Ana García"
    with pytest.raises(DecryptionError):
        cipher.decrypt(token, "beneficiary.notes")


def test_same_value_encrypts_differently_each_time() -> None:
    cipher = FieldCipher(os.urandom(32))
    assert cipher.encrypt("x", "p") != cipher.encrypt("x", "p")


def test_rotation_reads_old_tokens_and_marks_them_for_rewrite() -> None:
    old, new = os.urandom(32), os.urandom(32)
    token = FieldCipher(old).encrypt("+34600000000", "device.number")
    rotated = FieldCipher(new, previous=(old,))
    assert rotated.decrypt(token, "device.number") == "+34600000000"
    assert rotated.needs_rotation(token)
    assert rotated.key_id_in(token) == key_id_of(old)
    with pytest.raises(DecryptionError, match="unknown key id"):
        FieldCipher(new).decrypt(token, "device.number")


def test_lookup_hash_is_keyed() -> None:
    a, b = FieldCipher(os.urandom(32)), FieldCipher(os.urandom(32))
    assert a.lookup_hash("+34600000000") == a.lookup_hash("+34600000000")
    assert a.lookup_hash("+34600000000") != b.lookup_hash("+34600000000")
