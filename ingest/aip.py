"""Build the AIP in staging: a BagIt 1.0 bag whose payload is an E-ARK AIP.

Each transfer byte is read once: copied into the staged bag and hashed from the same chunks.
We write the tag files ourselves instead of calling ``bagit.make_bag`` because make_bag
re-reads every payload file to hash it (a second pass over the bytes) and cannot take digests
we already have; the stored bags validate with ``bagit`` (tests prove it).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from ingest import package_xml
from ingest.package_xml import PackageFile
from ingest.safety import open_regular
from ingest.transfer import Transfer, TransferFile
from ingest.virus import ScanResult, VirusScanner
from repository import __version__
from storage.fixity import Digest, Hasher, copy_and_hash

BAGIT_TXT = b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"


@dataclass(frozen=True)
class BagFile:
    path: str  # relative to the bag root: "data/…" or a tag file name
    size: int
    sha256: str
    role: str  # "payload" | "tag"
    local: Path
    mime: str | None = None
    puid: str | None = None


@dataclass
class StagedAip:
    aip_id: str
    root: Path
    files: list[BagFile] = field(default_factory=list)
    bag_info: dict[str, str] = field(default_factory=dict)
    # PREMIS events of the intake checks, for the catalog: {"type", "outcome", "detail"}.
    check_events: list[dict] = field(default_factory=list)

    @property
    def payload(self) -> list[BagFile]:
        return [f for f in self.files if f.role == "payload"]

    @property
    def content_files(self) -> list[BagFile]:
        """The transfer's own files: data/representations/<rep>/data/… (not METS/EAD/PREMIS)."""
        return [f for f in self.files if is_content(f.path)]

    @property
    def tagmanifest_sha256(self) -> str:
        return next(f.sha256 for f in self.files if f.path == "tagmanifest-sha256.txt")


def hash_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def is_content(bag_path: str) -> bool:
    parts = bag_path.split("/")
    return len(parts) > 4 and parts[:2] == ["data", "representations"] and parts[3] == "data"


def encode_manifest_path(path: str) -> str:
    """RFC 8493 §2.1.3: CR, LF and '%' in a file path are percent-encoded in manifests."""
    return path.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


Digested = tuple[int, dict[str, str]]  # bytes copied, algorithm -> hex digest


def copy_transfer(transfer: Transfer, root: Path, prefix: str = f"{package_xml.REP_DATA}/",
                  on_bytes: Callable[[int], None] | None = None,
                  scanner: VirusScanner | None = None, workers: int = 4,
                  on_copied: Callable[[BagFile], None] | None = None,
                  hashers: Mapping[str, Callable[[], Mapping[str, Hasher]]] | None = None,
                  on_digests: Callable[[str, Digested | OSError], None] | None = None,
                  ) -> tuple[list[BagFile], list[ScanResult]]:
    """Copy every transfer file into ``root/data/<prefix>``, hashing the same chunks (one read
    per byte), then have clamd scan the staged copy; several files at a time so both cores
    stay busy.

    ``hashers`` names the files (by ``rel_path``) whose digests the caller must verify, e.g.
    against a submitted bag's manifests: each is also fed, from the same chunks, to the hashers
    its factory makes, and ``on_digests(rel_path, (size, {algorithm: hex}))`` gets them with
    SHA-256. Such a file that cannot be read is passed as ``on_digests(rel_path, error)``
    instead of failing the copy (its BagFile is then an empty placeholder, neither scanned
    nor identified), so the caller can reject the transfer as its validator would.
    """
    verify = hashers or {}

    def one(tf: TransferFile) -> tuple[BagFile, ScanResult | None]:
        rel = f"data/{prefix}{tf.rel_path}"
        dest = root / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        factory = verify.get(tf.rel_path)
        extra = {a: h for a, h in factory().items() if a != "sha256"} if factory else {}
        try:
            digest = _copy_one(tf.source, dest, on_bytes, extra)
        except _Unreadable as exc:
            if factory is None:
                raise exc.error from None
            if on_digests:
                on_digests(tf.rel_path, exc.error)
            return BagFile(rel, 0, "", "payload", dest), None
        if factory is not None and on_digests:
            found = {a: h.hexdigest() for a, h in extra.items()}
            on_digests(tf.rel_path, (digest.size, {**found, "sha256": digest.sha256}))
        copied = BagFile(rel, digest.size, digest.sha256, "payload", dest)
        if on_copied:
            on_copied(copied)
        # clamd reads the staged copy (still in the page cache) through a descriptor.
        scan = scanner.scan_descriptor(dest, tf.rel_path) if scanner else None
        return copied, scan

    with ThreadPoolExecutor(max_workers=workers) as pool:
        done = list(pool.map(one, transfer.files))
    return [f for f, _ in done], [s for _, s in done if s is not None]


class _Unreadable(Exception):
    """Reading a transfer file failed (as opposed to writing staging, which stays an OSError)."""

    def __init__(self, error: OSError) -> None:
        super().__init__(str(error))
        self.error = error


class _Source:
    """A transfer file's reads, each failure turned into :class:`_Unreadable`."""

    def __init__(self, handle) -> None:  # type: ignore[no-untyped-def]
        self._handle = handle

    def read(self, n: int = -1) -> bytes:
        try:
            return self._handle.read(n)
        except OSError as exc:
            raise _Unreadable(exc) from exc


def _copy_one(source: Path, dest: Path, on_bytes: Callable[[int], None] | None,
              extra: Mapping[str, Hasher]) -> Digest:
    with ExitStack() as stack:
        try:
            # No link, FIFO or device swapped in after the walk: with a submitted bag's or
            # SIP's digests deferred to this copy, this is the only read of the file.
            src = stack.enter_context(open_regular(source))
        except OSError as exc:
            raise _Unreadable(exc) from exc
        dst = stack.enter_context(open(dest, "xb"))
        return copy_and_hash(_Source(src), dst, on_bytes,  # type: ignore[arg-type]
                             extra=extra.values())


def add_files(root: Path, files: list[tuple[str, Path]]) -> list[BagFile]:
    """Copy extra documents (a submitted bag's tag files, a SIP's METS) into the AIP."""
    out: list[BagFile] = []
    for rel, source in files:
        dest = root / "data" / "metadata" / "other" / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        with open(source, "rb") as src, open(dest, "xb") as dst:
            digest = copy_and_hash(src, dst)
        out.append(BagFile(f"data/metadata/other/{rel}", digest.size, digest.sha256, "payload",
                           dest))
    return out


def finish_bag(staged: StagedAip, content: list[BagFile], description: dict[str, str],
               bag_info: dict[str, str], agent: str,
               premis_events: list[dict[str, str]]) -> StagedAip:
    """Write EAD, PREMIS, METS and the BagIt tag files around already-copied content."""
    now = datetime.now(UTC)
    root = staged.root
    pkg = [PackageFile(f.path.removeprefix("data/"), f.size, f.sha256, f.mime, f.puid)
           for f in content]
    ead = _write(root, f"data/{package_xml.EAD_PATH}",
                 package_xml.ead_xml(staged.aip_id, description))
    premis = _write(root, f"data/{package_xml.PREMIS_PATH}",
                    package_xml.premis_xml(pkg, premis_events, agent))
    md = [PackageFile(p.path.removeprefix("data/"), p.size, p.sha256) for p in (ead, premis)]
    mets = _write(root, "data/METS.xml", package_xml.mets_xml(
        staged.aip_id, description.get("title", ""), now, agent, md, pkg, __version__))
    payload = [mets, ead, premis, *content]
    payload.sort(key=lambda f: f.path.encode("utf-8", "surrogateescape"))

    info = dict(bag_info)
    info.setdefault("Bagging-Date", now.date().isoformat())
    info["Payload-Oxum"] = f"{sum(f.size for f in payload)}.{len(payload)}"
    tags = [_write(root, "bagit.txt", BAGIT_TXT),
            _write(root, "bag-info.txt", _bag_info_bytes(info)),
            _write(root, "manifest-sha256.txt", _manifest(payload))]
    tagmanifest = _write(root, "tagmanifest-sha256.txt", _manifest(tags))
    staged.files = [*payload, *tags, tagmanifest]
    staged.bag_info = info
    return staged


def _manifest(files: list[BagFile]) -> bytes:
    lines = [f"{f.sha256}  {encode_manifest_path(f.path)}\n" for f in files]
    return "".join(lines).encode("utf-8", "surrogateescape")


def _bag_info_bytes(info: dict[str, str]) -> bytes:
    # RFC 8493 §2.2.2: "Label: Value" lines; values must not contain line breaks.
    lines = [f"{k}: {' '.join(str(v).split())}\n" for k, v in info.items()]
    return "".join(lines).encode("utf-8")


def _write(root: Path, rel: str, data: bytes) -> BagFile:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    role = "payload" if rel.startswith("data/") else "tag"
    mime = "text/xml" if rel.endswith(".xml") else "text/plain"
    return BagFile(rel, len(data), hash_bytes(data), role, path, mime=mime)
