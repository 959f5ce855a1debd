"""Key-encryption keys in the home (storage/keyring.py): private files, generations, wrapping."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from storage.crypto import new_data_key
from storage.keyring import FileKeyProvider, KeyProvider, KeyUnavailable, WrappedKeyDamaged
from tests.storage.mock_kms import MockKms


@pytest.fixture
def keys_dir(tmp_path: Path) -> Path:
    path = tmp_path / "keys"
    path.mkdir(mode=0o700)
    return path


def test_first_use_makes_a_private_kek_per_level(keys_dir: Path) -> None:
    provider = FileKeyProvider(keys_dir)
    assert provider.current("secret") == "secret-1"
    assert provider.current("secret") == "secret-1"
    assert provider.current("top-secret") == "top-secret-1"
    kek = keys_dir / "kek" / "secret-1.kek"
    assert kek.stat().st_mode & 0o777 == 0o600
    assert (keys_dir / "kek").stat().st_mode & 0o777 == 0o700
    assert len(kek.read_bytes()) == 32


def test_wrap_unwrap_and_rotation_keep_old_keks_readable(keys_dir: Path) -> None:
    provider = FileKeyProvider(keys_dir)
    key = new_data_key()
    wrapped = provider.wrap(provider.current("secret"), key)
    assert key not in wrapped
    assert provider.rotate("secret") == "secret-2"
    assert provider.current("secret") == "secret-2"
    assert provider.unwrap("secret-1", wrapped) == key
    infos = {(k.kek_id, k.current) for k in provider.keks()}
    assert infos == {("secret-1", False), ("secret-2", True)}


def test_altered_wrapped_key_or_wrong_kek_is_damage_not_garbage(keys_dir: Path) -> None:
    provider = FileKeyProvider(keys_dir)
    wrapped = bytearray(provider.wrap(provider.current("secret"), new_data_key()))
    with pytest.raises(WrappedKeyDamaged):
        provider.unwrap("secret-1", bytes(wrapped[:-1]) + bytes([wrapped[-1] ^ 1]))
    provider.current("confidential")
    with pytest.raises(WrappedKeyDamaged):
        provider.unwrap("confidential-1", bytes(wrapped))


@pytest.mark.parametrize("target", ["kek/secret-1.kek", "kek", "."])
def test_key_material_open_to_others_is_refused(keys_dir: Path, target: str) -> None:
    FileKeyProvider(keys_dir).current("secret")
    path = keys_dir / target
    os.chmod(path, 0o755 if path.is_dir() else 0o644)
    with pytest.raises(KeyUnavailable, match="chmod") as caught:
        FileKeyProvider(keys_dir).wrap("secret-1", new_data_key())
    assert caught.value.exit_code == 2
    assert str(path) in str(caught.value)


def test_missing_or_short_kek_says_what_to_do(keys_dir: Path) -> None:
    provider = FileKeyProvider(keys_dir)
    with pytest.raises(KeyUnavailable, match="restore it from the key backup"):
        provider.unwrap("secret-9", b"x" * 40)
    provider.current("secret")
    (keys_dir / "kek" / "secret-1.kek").write_bytes(b"short")
    with pytest.raises(KeyUnavailable, match="exactly 32 bytes"):
        FileKeyProvider(keys_dir).wrap("secret-1", new_data_key())
    with pytest.raises(KeyUnavailable, match="not a file-provider KEK id"):
        provider.unwrap("../../etc/passwd", b"x" * 40)


def test_a_kek_is_never_overwritten(keys_dir: Path) -> None:
    provider = FileKeyProvider(keys_dir)
    provider.current("secret")
    before = (keys_dir / "kek" / "secret-1.kek").read_bytes()
    with pytest.raises(FileExistsError):
        provider._create("secret", 1)
    assert (keys_dir / "kek" / "secret-1.kek").read_bytes() == before


def test_both_providers_implement_the_interface(keys_dir: Path) -> None:
    assert isinstance(FileKeyProvider(keys_dir), KeyProvider)
    assert isinstance(MockKms(None), KeyProvider)
