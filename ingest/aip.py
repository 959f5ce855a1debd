"""Build the AIP in staging: a BagIt 1.0 bag whose payload is an E-ARK AIP.

Each transfer byte is read once: copied into the staged bag and hashed from the same chunks.
We write the tag files ourselves instead of calling ``bagit.make_bag`` because make_bag
re-reads every payload file to hash it (a second pass over the bytes) and cannot take digests
we already have; the stored bags validate with ``bagit`` (tests prove it).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from ingest import package_xml
from ingest.package_xml import PackageFile
from ingest.transfer import Transfer
from storage.fixity import copy_and_hash

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

    @property
    def payload(self) -> list[BagFile]:
        return [f for f in self.files if f.role == "payload"]

    @property
    def content_files(self) -> list[BagFile]:
        """The transfer's own files (not METS/EAD/PREMIS)."""
        prefix = f"data/{package_xml.REP_DATA}/"
        return [f for f in self.files if f.path.startswith(prefix)]

    @property
    def tagmanifest_sha256(self) -> str:
        return next(f.sha256 for f in self.files if f.path == "tagmanifest-sha256.txt")


def encode_manifest_path(path: str) -> str:
    """RFC 8493 §2.1.3: CR, LF and '%' in a file path are percent-encoded in manifests."""
    return path.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def copy_transfer(transfer: Transfer, root: Path,
                  on_bytes: Callable[[int], None] | None = None) -> list[BagFile]:
    """Copy every transfer file into ``root/data/representations/rep1/data``, hashing it."""
    out: list[BagFile] = []
    for tf in transfer.files:
        rel = f"data/{package_xml.REP_DATA}/{tf.rel_path}"
        dest = root / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        with open(tf.source, "rb") as src, open(dest, "wb") as dst:
            digest = copy_and_hash(src, dst, on_bytes)
        out.append(BagFile(rel, digest.size, digest.sha256, "payload", dest))
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
        staged.aip_id, description.get("title", ""), now, agent, md, pkg))
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
    return BagFile(rel, len(data), hashlib.sha256(data).hexdigest(), role, path, mime=mime)
