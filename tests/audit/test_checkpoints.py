"""Signed checkpoints: a log rewritten from the start, cut short, or stripped of its
checkpoints is caught by `khoso log verify` (both catalogs) and by the exported verifier."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from pathlib import Path

from sqlalchemy import delete, select, update

from repository import events
from repository.catalog.models import ChainHead, Checkpoint, Event
from repository.checkpoints import JOURNAL, KEY_FILE
from repository.context import Repository


def _rewrite_from(repo: Repository, seq: int, change: dict) -> None:
    """Edit event ``seq`` and re-hash it and every later event, head row included: what
    someone with write access to the catalog (but not the signing key) can do."""
    with repo.catalog.session() as session:
        rows = list(session.scalars(select(Event).where(Event.seq >= seq).order_by(Event.seq)))
        prev = session.scalar(select(Event.hash).where(Event.seq == seq - 1)) or events.GENESIS
        for n, ev in enumerate(rows):
            if n == 0:
                for key, value in change.items():
                    setattr(ev, key, value)
            ev.prev_hash = prev
            ev.hash = events.event_hash(ev)
            prev = ev.hash
        session.execute(update(ChainHead).where(ChainHead.id == 1)
                        .values(seq=rows[-1].seq, hash=prev))


def _truncate_to(repo: Repository, seq: int) -> None:
    with repo.catalog.session() as session:
        last = session.scalar(select(Event.hash).where(Event.seq == seq))
        session.execute(delete(Event).where(Event.seq > seq))
        session.execute(update(ChainHead).where(ChainHead.id == 1).values(seq=seq, hash=last))


def test_checkpoints_are_signed_by_a_private_key_made_on_demand(khoso, holding) -> None:  # type: ignore[no-untyped-def]
    key = khoso.home / "keys" / KEY_FILE
    assert not key.exists()
    made = khoso.json("log", "checkpoint")["checkpoint"]
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    journal = (khoso.home / JOURNAL).read_text(encoding="utf-8").splitlines()
    assert json.loads(journal[-1])["statement"] == made["statement"]
    # Every audit run ends with a checkpoint of the head, covering its fixity events.
    audited = khoso.json("audit")
    head = khoso.json("log", "verify")
    assert head["intact"] is True and head["checkpoints"]["verified"] == 2
    assert audited["checkpoint"]["seq"] == head["events"] > made["statement"]["seq"]
    key.chmod(0o644)
    doc = khoso.json("log", "checkpoint", code=2)
    assert "chmod 600" in doc["error"]["message"]


def test_rewritten_log_fails_against_its_checkpoint(khoso, holding, repo) -> None:  # type: ignore[no-untyped-def]
    khoso.ok("log", "checkpoint")
    _rewrite_from(repo, 3, {"agent": "someone else"})
    # The chain's own links agree again: only the signed checkpoint shows the rewrite.
    with repo.catalog.session() as session:
        assert events.verify(session).ok
    broken = khoso.json("log", "verify", code=1)
    assert broken["intact"] is False
    assert "rewritten" in broken["reason"]


def test_truncated_tail_fails_against_its_checkpoint(khoso, holding, repo) -> None:  # type: ignore[no-untyped-def]
    signed = khoso.json("log", "checkpoint")["checkpoint"]["statement"]["seq"]
    _truncate_to(repo, signed - 2)
    broken = khoso.json("log", "verify", code=1)
    assert broken["first_bad"] == signed - 1
    assert "deleted" in broken["reason"]


def test_forged_or_deleted_checkpoints_are_caught(khoso, holding, repo) -> None:  # type: ignore[no-untyped-def]
    khoso.ok("log", "checkpoint")
    with repo.catalog.session() as session:
        session.execute(update(Checkpoint).values(hash="0" * 64))
    assert "signature does not verify" in khoso.json("log", "verify", code=1)["reason"]
    with repo.catalog.session() as session:
        session.execute(delete(Checkpoint))
    # The home's journal still holds the genuine checkpoint.
    assert "checkpoints table was edited" in khoso.json("log", "verify", code=1)["reason"]


def _run_verifier(folder: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    # A bare interpreter with no site-packages: what an auditor elsewhere has.
    return subprocess.run([sys.executable, "-I", "-S", str(folder / "verify.py"), str(folder),
                           *extra], capture_output=True, text=True, cwd=folder)


def test_export_verifies_elsewhere_and_detects_tampering(khoso, holding, tmp_path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "export"
    data = khoso.json("log", "export", "--out", out)
    assert {"events.jsonl", "checkpoints.jsonl", "public-key.pem", "verify.py",
            "README.txt"} <= set(data["files"])
    ok = _run_verifier(out, "--key-id", data["key_id"])
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert f"{data['events']} events" in ok.stdout

    lines = (out / "events.jsonl").read_text(encoding="utf-8").splitlines()
    edited = [json.loads(line) for line in lines]
    edited[2]["agent"] = "someone else"  # edit one event and re-chain every later one
    prev = edited[1]["hash"]
    for ev in edited[2:]:
        ev["prev"] = prev
        body = {k: ev[k] for k in ("seq", "aip", "type", "outcome", "at", "agent", "detail",
                                   "prev")}
        import hashlib

        ev["hash"] = prev = hashlib.sha256(json.dumps(
            body, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()).hexdigest()
    (out / "events.jsonl").write_text("".join(json.dumps(e, ensure_ascii=False) + "\n"
                                              for e in edited), encoding="utf-8")
    rewritten = _run_verifier(out)
    assert rewritten.returncode == 1
    assert "rewritten" in rewritten.stdout

    (out / "events.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    cps = (out / "checkpoints.jsonl").read_text(encoding="utf-8").splitlines()
    forged = json.loads(cps[-1])
    forged["statement"]["at"] = "2020-01-01T00:00:00.000000Z"
    (out / "checkpoints.jsonl").write_text(json.dumps(forged) + "\n", encoding="utf-8")
    assert "signature does not verify" in _run_verifier(out).stdout


def test_later_export_is_checked_against_an_earlier_one(khoso, holding, repo, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Whoever rewrites the catalog *and* removes every checkpoint (rows and journal) gets a
    new export that verifies on its own; the auditor's earlier export still catches it."""
    first = tmp_path / "first"
    khoso.ok("log", "export", "--out", first)
    _rewrite_from(repo, 2, {"agent": "someone else"})
    with repo.catalog.session() as session:
        session.execute(delete(Checkpoint))
    (khoso.home / JOURNAL).unlink()
    second = tmp_path / "second"
    khoso.ok("log", "export", "--out", second)
    assert _run_verifier(second).returncode == 0
    caught = _run_verifier(second, "--previous", str(first))
    assert caught.returncode == 1
    assert "earlier export's checkpoint" in caught.stdout


def test_standalone_ed25519_matches_rfc8032_and_cryptography() -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from repository.log_verifier import ed25519_verify

    # RFC 8032 §7.1, test 1.
    public = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
    sig = bytes.fromhex("e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb88"
                        "21590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b")
    assert ed25519_verify(public, b"", sig)
    assert not ed25519_verify(public, b"x", sig)
    key = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
    raw = key.public_key().public_bytes_raw()
    message = "Nhật ký sự kiện".encode()
    assert ed25519_verify(raw, message, key.sign(message))
    assert not ed25519_verify(raw, message + b".", key.sign(message))


def test_processes_racing_to_make_the_key_all_get_one_whole_key(tmp_path: Path) -> None:
    # Workers on one home may all find no key and make one at once: every one of them must
    # end with the same, complete key (a half-written file used to give MalformedFraming).
    import multiprocessing

    from cryptography.hazmat.primitives import serialization

    path = tmp_path / "keys" / "checkpoint.pem"
    context = multiprocessing.get_context("fork")
    with context.Pool(6) as pool:
        publics = pool.map(_public_of_created_key, [path] * 24)
    assert len(set(publics)) == 1
    loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
    assert _raw_public(loaded) == publics[0]
    assert path.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["checkpoint.pem"]  # no temporary left


def _raw_public(key) -> bytes:  # type: ignore[no-untyped-def]
    from cryptography.hazmat.primitives import serialization

    return key.public_key().public_bytes(serialization.Encoding.Raw,
                                         serialization.PublicFormat.Raw)


def _public_of_created_key(path: Path) -> bytes:
    from repository.checkpoints import _create_key

    return _raw_public(_create_key(path))


def test_a_rotated_key_vouches_for_its_successor_and_signs_nothing_later(  # type: ignore[no-untyped-def]
        khoso, holding, repo, tmp_path) -> None:
    import base64

    from cryptography.hazmat.primitives import serialization

    from repository.checkpoints import RETIRED_DIR, Signed

    khoso.ok("log", "checkpoint")
    old_pem = (khoso.home / "keys" / KEY_FILE).read_bytes()
    rotated = khoso.json("log", "rotate-key")
    assert rotated["retired"] != rotated["current"]
    assert rotated["vouched_by_retired"]["statement"]["key_id"] == rotated["retired"]
    assert rotated["first_signed"]["statement"]["key_id"] == rotated["current"]
    # The old private key is gone; its public half stays to verify what it signed.
    assert (khoso.home / "keys" / KEY_FILE).read_bytes() != old_pem
    assert stat.S_IMODE((khoso.home / "keys" / KEY_FILE).stat().st_mode) == 0o600
    assert len(list((khoso.home / "keys" / RETIRED_DIR).glob("*.pem"))) == 1
    khoso.ok("audit")  # signs with the new key
    verified = khoso.json("log", "verify")
    assert verified["intact"] and verified["checkpoints"]["key_id"] == rotated["current"]
    assert verified["checkpoints"]["keys"] == sorted([rotated["retired"], rotated["current"]])

    # An auditor who pinned the old key follows the rotation to the new one.
    out = tmp_path / "export"
    khoso.ok("log", "export", "--out", out)
    followed = _run_verifier(out, "--key-id", rotated["retired"])
    assert followed.returncode == 0, followed.stdout + followed.stderr
    assert _run_verifier(out, "--key-id", "ed25519:0000000000000000").returncode == 1

    # Someone who kept the old private key signs the head after the rotation: caught.
    old = serialization.load_pem_private_key(old_pem, password=None)
    with repo.catalog.session() as session:
        seq, hash_ = events.head(session)
        at = "2030-01-01T00:00:00.000000Z"
        statement = Signed(seq, hash_, at, rotated["retired"], "").statement()
        signature = base64.b64encode(old.sign(statement)).decode()  # type: ignore[union-attr]
        from datetime import UTC, datetime

        session.add(Checkpoint(seq=seq, hash=hash_, at=datetime(2030, 1, 1, tzinfo=UTC),
                               key_id=rotated["retired"], signature=signature))
    with open(khoso.home / JOURNAL, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(Signed(seq, hash_, at, rotated["retired"], signature).as_dict())
                 + "\n")
    caught = khoso.json("log", "verify", code=1)
    assert "was retired at event" in caught["reason"]
    out2 = tmp_path / "export2"
    khoso.json("log", "export", "--out", out2, code=1)  # exported, and said not to verify
    assert "after it was retired" in _run_verifier(out2).stdout


def test_rotating_before_any_checkpoint_is_a_usage_error(khoso) -> None:  # type: ignore[no-untyped-def]
    error = khoso.json("log", "rotate-key", code=2)["error"]
    assert "nothing to rotate" in error["message"]


def test_a_rotation_killed_before_its_new_key_was_saved_retires_nothing(  # type: ignore[no-untyped-def]
        khoso, holding, repo, tmp_path) -> None:
    from repository.checkpoints import ROTATION

    khoso.ok("log", "checkpoint")
    current = khoso.json("log", "verify")["checkpoints"]["key_id"]
    with repo.catalog.session() as session:  # what a kill right after the event leaves
        events.record(session, events.POLICY_ASSIGNMENT, events.SUCCESS, "test", detail={
            "action": ROTATION, "retired": current, "current": "ed25519:never0saved0000"})
    khoso.ok("log", "checkpoint")  # the old key goes on signing: not a forgery
    assert khoso.json("log", "verify")["intact"]
    out = tmp_path / "export"
    khoso.ok("log", "export", "--out", out)
    assert _run_verifier(out, "--key-id", current).returncode == 0
    rotated = khoso.json("log", "rotate-key")  # run again: now it retires the key
    assert rotated["retired"] == current
    khoso.ok("log", "checkpoint", "--json")
    assert khoso.json("log", "verify")["intact"]
