"""Strict BagIt validation (RFC 8493; BagIt 0.93 to 1.0) of the bags khoso is asked to keep.

    report = validate_bag(path, profile=None, processes=2, fast=False, defer_payload=False)

``report.valid`` is true when ``report.errors`` is empty; ``errors`` and ``warnings`` are
:class:`~repository.errors.Problem` values with a stable kebab-case ``code``, the bag-relative
``path`` concerned and the ``rule`` (RFC section or profile key) behind them. ``payload`` lists
every regular file under ``data/`` with its size and the digests of every manifest algorithm
(computed from the bytes; with ``fast=True`` nothing is hashed and the digests are the declared
ones, flagged by a ``fixity-not-checked`` warning). The validator never writes to the bag.

``defer_payload=True`` (ingest) checks everything but the payload digests and hands them to
the caller instead, in ``report.deferred`` (bag path -> :class:`DeferredDigests`): the caller
reads each payload file once anyway (to copy it) and verifies from the same chunks, with the
same problems (``payload-digest-mismatch``, ``payload-file-unreadable``). Tag manifests are
still verified here, and ``payload`` digests are then empty. A bag found invalid otherwise is
rejected without being copied, so its payload is verified here after all (still one read) and
the report lists every problem, as in full validation.

bagit-python 1.9 supplies the algorithm list; its reading of the tag files is replaced by
``ingest.bagit_parsers`` because it stops at the first problem and lets through, among others,
``BagIt-Version : 1.0``, a raw ``%`` in 1.0 manifest paths, manifests in unknown algorithms,
unfetched ``fetch.txt`` items and Windows drive/UNC paths. The bag's files are found and hashed
by ``ingest.bag_tree``, a profile is checked by ``ingest.bag_profile`` (:func:`load_profile`)
and a serialized bag is unpacked by ``ingest.bag_serialized`` (:func:`open_serialized_bag`);
this module re-exports those two functions.

Decisions:

* Safety. Files are found by walking the bag without following links; a path read from a
  manifest or ``fetch.txt`` is only ever a key into that walk, never opened. Symlinks, devices
  and FIFOs anywhere in the bag are errors. Escapes (``..``, absolute, ``~``, drive letters,
  UNC, URL schemes, ``%VAR%``) are errors on every OS: copies travel to other systems.
* Holey bags. khoso never downloads. A ``fetch.txt`` item must be listed in every payload
  manifest and already be present; an absent one is ``fetch-not-allowed``.
* Unicode normalization and case (RFC 8493 §5.1, §5.2). A manifest entry with no file of
  exactly that name, but exactly one file equal to it after NFC normalization (or, failing
  that, after case folding), is matched to that file with a ``name-normalization-mismatch``
  (``name-case-mismatch``) warning; its checksum must still verify. Two entries of one
  manifest that land on the same file this way are ``name-normalization-collision``
  (``name-case-collision``): a warning before BagIt 1.0, an error in 1.0, as for any file
  listed twice. An entry matching no file, or several, is ``payload-file-missing``. Two files
  on disk whose names are equal after NFC are an error (they cannot both survive a copy to
  macOS or a normalizing store); equal after case folding only, a warning.
* OS metadata files (``.DS_Store``, ``Thumbs.db``, ...) in the payload get a warning. One that
  a manifest lists but is absent is excused with a warning only when every listed checksum is
  that of zero bytes, so nothing was lost; it still counts in Payload-Oxum.
* Every checksum that can be verified must verify, tag manifests included, in every version
  (bagit-python ignores tag manifests before 0.97). Before 0.97 a tag manifest entry naming
  something that is not a file in the bag is only a warning, as those versions did not yet
  require tag files to be present.
* Every payload file must be listed in every payload manifest in BagIt 1.0; before 1.0 in at
  least one, manifests that differ getting a ``manifest-sets-differ`` warning (RFC 8493 §3).
* A manifest in an algorithm khoso cannot compute is ``unsupported-algorithm``: an error when
  no payload manifest can be verified, else a warning.

Problem codes: bag-not-found, bag-not-a-directory, bag-unreadable, symlink-in-bag,
special-file-in-bag, name-not-utf8, bag-declaration-missing, bag-declaration-invalid,
bag-declaration-whitespace, bag-version-unsupported, tag-encoding-unsupported,
tag-file-encoding-invalid, tag-file-bom, tag-file-too-large, tag-file-unreadable,
payload-directory-missing, manifest-missing, manifest-name-not-canonical, manifest-line-invalid,
manifest-binary-marker, manifest-path-not-canonical, manifest-path-encoding-invalid,
manifest-path-whitespace, manifest-duplicate-entry, manifest-entry-outside-payload,
manifest-sets-differ, tag-manifest-lists-payload, path-escape, path-not-portable,
unsupported-algorithm, payload-file-missing, payload-file-not-in-manifest,
payload-file-unreadable, payload-digest-mismatch, tag-file-missing, tag-digest-mismatch,
name-normalization-mismatch, name-case-mismatch, name-normalization-collision,
name-case-collision, os-metadata-file, os-metadata-file-missing, bag-info-invalid,
bag-info-whitespace, oxum-malformed, oxum-mismatch, fetch-line-invalid, fetch-url-invalid,
fetch-target-not-payload, fetch-entry-not-in-manifest, fetch-not-allowed,
fetch-length-mismatch, fixity-not-checked, profile-unavailable, profile-invalid,
profile-nonconforming, profile-identifier-mismatch, profile-serialization-unchecked,
serialization-invalid, serialization-unsafe-member, serialization-no-base-directory.
"""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from ingest.bag_profile import check_profile, load_profile
from ingest.bag_serialized import UnpackedBag, open_serialized_bag
from ingest.bag_tree import (
    BagTree,
    hash_file,
    is_empty_digest,
    is_os_metadata,
    nfc,
    report_mismatches,
    unreadable_problem,
    walk_bag,
)
from ingest.bagit_parsers import (
    RFC_VERSION,
    SUPPORTED_ALGORITHMS,
    SUPPORTED_VERSIONS,
    BagDeclaration,
    FetchEntry,
    Findings,
    Manifest,
    ManifestEntry,
    Version,
    manifest_kind,
    parse_oxum,
    quoted,
    read_bag_info,
    read_bagit_txt,
    read_fetch,
    read_manifest,
    unicode_form,
)
from ingest.safety import find_collisions, open_regular, shown
from repository.errors import Problem
from storage.fixity import Hasher

__all__ = ["BagReport", "DeferredDigests", "PayloadEntry", "UnpackedBag", "load_profile",
           "open_serialized_bag", "validate_bag"]

MAX_TAG_FILE = 256 * 1024 * 1024
_MISMATCH = {
    "normalization": ("name-normalization-mismatch", "Unicode normalization (NFC/NFD)",
                      "RFC 8493 §5.1"),
    "case": ("name-case-mismatch", "letter case", "RFC 8493 §5.2"),
    "whitespace": ("manifest-path-whitespace", "trailing whitespace", "RFC 8493 §2.1.3"),
}

Digests = dict[str, dict[str, dict[str, str]]]  # path -> algorithm -> digest -> manifest name


@dataclass(frozen=True)
class PayloadEntry:
    path: str  # bag-relative, e.g. "data/report.pdf"
    size: int
    digests: dict[str, str]


@dataclass(frozen=True)
class DeferredDigests:
    """The digests one payload file must have, left to whoever reads it next to verify."""

    path: str  # bag-relative, e.g. "data/report.pdf"
    expected: dict[str, dict[str, str]]  # algorithm -> declared digest -> manifest naming it

    def hashers(self) -> dict[str, Hasher]:
        return {algorithm: hashlib.new(algorithm) for algorithm in self.expected}

    def problems(self, size: int, digests: dict[str, str]) -> list[Problem]:
        """What :func:`validate_bag` reports for these bytes (``digests``: algorithm -> hex).
        ``size`` is not judged here: Payload-Oxum was checked from the walk."""
        found = Findings()
        report_mismatches(found, self.path, {a: digests[a] for a in self.expected},
                          self.expected, "payload-digest-mismatch")
        return found.errors

    def unreadable(self, error: OSError) -> Problem:
        return unreadable_problem("payload-file-unreadable", self.path, error)


@dataclass(frozen=True)
class BagReport:
    valid: bool
    version: str | None
    errors: list[Problem]
    warnings: list[Problem]
    payload: list[PayloadEntry]
    deferred: dict[str, DeferredDigests] = field(default_factory=dict)  # bag path -> digests


def validate_bag(path: Path, *, profile: str | Path | None = None, processes: int = 2,
                 fast: bool = False, defer_payload: bool = False) -> BagReport:
    """Check the bag at ``path`` (a directory) against RFC 8493 and, if given, a BagIt Profile.

    ``defer_payload``: do not hash the payload; return what each file must hash to in
    ``deferred`` (``fast`` takes precedence: nothing is verified then).
    """
    found = Findings()
    root = Path(path)
    if not root.is_dir():
        code, what = (("bag-not-a-directory", "is a file; unpack a serialized bag first")
                      if root.exists() else ("bag-not-found", "does not exist"))
        found.error(code, f"{root} {what}", path=str(root))
        return BagReport(False, None, found.errors, found.warnings, [])
    check = _BagCheck(root, found, max(1, processes), fast, defer_payload)
    check.run()
    if profile is not None and check.declaration is not None:
        check_profile(check, profile)
    if check.deferred and found.errors:
        check.verify_deferred()  # rejected before any copy: list every problem now
    version = check.declaration.version if check.declaration else None
    return BagReport(not found.errors, version, found.errors, found.warnings, check.payload,
                     check.deferred)


class _BagCheck:
    def __init__(self, root: Path, found: Findings, processes: int, fast: bool,
                 defer: bool = False) -> None:
        self.root, self.found, self.processes, self.fast = root, found, processes, fast
        self.defer = defer
        self.deferred: dict[str, DeferredDigests] = {}
        self.tree = BagTree()
        self.declaration: BagDeclaration | None = None
        self.manifests: list[Manifest] = []
        self.tag_manifests: list[Manifest] = []
        self.info_name = "bag-info.txt"
        self.info: tuple[tuple[str, str], ...] = ()
        self.fetch: tuple[FetchEntry, ...] = ()
        self.payload: list[PayloadEntry] = []
        self._resolver = _Resolver([])
        self._noted: set[tuple[str, str]] = set()

    @property
    def version(self) -> Version:
        return self.declaration.version_info if self.declaration else RFC_VERSION

    @property
    def encoding(self) -> str:
        return self.declaration.encoding if self.declaration else "utf-8"

    def run(self) -> None:
        self.tree = walk_bag(self.root, self.found)
        self.declaration = self._read_declaration()
        if self.declaration is None:
            return
        if "data" not in self.tree.dirs:
            self.found.error("payload-directory-missing", "the bag has no data/ directory",
                             path="data", rule="RFC 8493 §2.1.2")
        self._load_tag_files()
        payload_digests, excused = self._match_payload()
        tag_digests = self._match_tags()
        self._check_fetch()
        computed = self._verify_payload(payload_digests)
        self._verify_tags(tag_digests)
        self._check_oxum(len(excused))
        self._check_names()
        self.payload = [PayloadEntry(p, self.tree.files[p], computed.get(p, {}))
                        for p in self.tree.payload()]

    def _read(self, rel: str) -> bytes | None:
        if self.tree.files[rel] > MAX_TAG_FILE:
            self.found.error("tag-file-too-large", f"{rel} is larger than {MAX_TAG_FILE} bytes; "
                             "khoso does not read tag files that large", path=rel)
            return None
        try:
            with open_regular(self.root / rel) as handle:
                return handle.read()
        except OSError as exc:
            self.found.error("tag-file-unreadable", f"cannot read {rel}: {exc}", path=rel)
            return None

    def _read_declaration(self) -> BagDeclaration | None:
        if "bagit.txt" not in self.tree.files:
            hint = (" (.bagit/ is the draft BagIt 2.0 layout, which RFC 8493 does not define)"
                    if ".bagit/bagit.txt" in self.tree.files else "")
            self.found.error("bag-declaration-missing", "the bag has no bagit.txt in its base "
                             f"directory{hint}; this is not a BagIt bag", path="bagit.txt",
                             rule="RFC 8493 §2.1.1")
            return None
        data = self._read("bagit.txt")
        declaration = None if data is None else self.found.take(read_bagit_txt(data))
        if declaration is not None and declaration.version_info not in SUPPORTED_VERSIONS:
            self.found.error("bag-version-unsupported", f"bagit.txt declares BagIt-Version "
                             f"{declaration.version}; khoso validates 0.93 to 0.97 and 1.0",
                             path="bagit.txt", field="BagIt-Version", rule="RFC 8493 §2.1.1")
            return None
        return declaration

    def _load_tag_files(self) -> None:
        for name in sorted(n for n in self.tree.files if "/" not in n):
            kind = manifest_kind(name)
            if kind is None:
                continue
            if kind[1] != kind[1].lower():
                self.found.warn("manifest-name-not-canonical", f"{name}: algorithm names in "
                                "manifest file names are lowercase", path=name,
                                rule="RFC 8493 §2.4")
            data = self._read(name)
            if data is not None:
                manifest = self.found.take(read_manifest(
                    data, name=name, version=self.version, encoding=self.encoding))
                (self.tag_manifests if manifest.tag else self.manifests).append(manifest)
        self._check_algorithms()
        self.info_name = "package-info.txt" if self.version < (0, 96) else "bag-info.txt"
        if self.info_name in self.tree.files and (data := self._read(self.info_name)):
            self.info = self.found.take(read_bag_info(
                data, name=self.info_name, version=self.version, encoding=self.encoding))
        if "fetch.txt" in self.tree.files and (data := self._read("fetch.txt")):
            self.fetch = self.found.take(read_fetch(data, version=self.version,
                                                    encoding=self.encoding))

    def _check_algorithms(self) -> None:
        if not self.manifests:
            self.found.error("manifest-missing", "the bag has no payload manifest "
                             "(manifest-<algorithm>.txt, e.g. manifest-sha256.txt)",
                             rule="RFC 8493 §2.1.3")
        verifiable = any(m.algorithm in SUPPORTED_ALGORITHMS for m in self.manifests)
        for manifest in self.manifests + self.tag_manifests:
            if manifest.algorithm not in SUPPORTED_ALGORITHMS:
                self.found.add(
                    "unsupported-algorithm", f"{manifest.name}: unsupported algorithm "
                    f"{quoted(manifest.algorithm)}; khoso verifies "
                    f"{', '.join(sorted(SUPPORTED_ALGORITHMS))}",
                    as_error=not manifest.tag and not verifiable, path=manifest.name,
                    rule="RFC 8493 §2.4")

    def _match_payload(self) -> tuple[Digests, set[str]]:
        payload = self.tree.payload()
        self._resolver = _Resolver(payload)
        digests: Digests = {}
        listed: dict[str, set[str]] = {}
        missing: dict[str, list[tuple[Manifest, ManifestEntry]]] = {}
        for manifest in self.manifests:
            hits: dict[str, list[tuple[ManifestEntry, str | None]]] = {}
            for entry in manifest.entries:
                disk, how = self._resolver.resolve(entry.path)
                if disk is None:
                    missing.setdefault(entry.path, []).append((manifest, entry))
                else:
                    hits.setdefault(disk, []).append((entry, how))
            for disk, entries in hits.items():
                self._spellings(manifest, disk, entries)
                listed.setdefault(disk, set()).add(manifest.name)
                by_digest = digests.setdefault(disk, {}).setdefault(manifest.algorithm, {})
                by_digest.update((entry.digest, manifest.name) for entry, _ in entries)
        self._unlisted(payload, listed)
        return digests, self._missing(missing)

    def _spellings(self, manifest: Manifest, disk: str,
                   entries: list[tuple[ManifestEntry, str | None]]) -> None:
        if len(entries) == 1:
            entry, how = entries[0]
            if how is not None and (entry.path, disk) not in self._noted:
                self._noted.add((entry.path, disk))
                code, what, rule = _MISMATCH[how]
                listed, found = quoted(entry.path), quoted(disk)
                if how == "normalization":
                    listed += f" ({unicode_form(entry.path)})"
                    found += f" ({unicode_form(disk)})"
                self.found.warn(code, f"{manifest.name} lists {listed}; the file in the bag is "
                                f"{found}, which differs only by {what}", path=disk, rule=rule)
            return
        names = [entry.path for entry, _ in entries]
        same_nfc = len({nfc(n) for n in names}) == 1
        code = "name-normalization-collision" if same_nfc else "name-case-collision"
        what = "Unicode normalization (NFC/NFD)" if same_nfc else "letter case"
        spelled = ", ".join(quoted(n) + (f" ({unicode_form(n)})" if same_nfc else "")
                            for n in names)
        self.found.add(code, f"{manifest.name} lists the file {quoted(disk)} {len(names)} times, "
                       f"as {spelled}, which differ only by {what}",
                       as_error=self.version >= RFC_VERSION, path=disk,
                       rule="RFC 8493 §5.1" if same_nfc else "RFC 8493 §5.2")

    def _unlisted(self, payload: list[str], listed: dict[str, set[str]]) -> None:
        names = [m.name for m in self.manifests]
        for disk in payload:
            lacking = [n for n in names if n not in listed.get(disk, set())]
            # RFC 8493 §3: 1.0 wants every payload file in every manifest; 0.97 in at least one.
            if lacking and (len(lacking) == len(names) or self.version >= RFC_VERSION):
                self.found.error("payload-file-not-in-manifest", f"{shown(disk)} is in the "
                                 f"payload but not listed in {', '.join(lacking)}",
                                 path=shown(disk), rule="RFC 8493 §3")
        if len({frozenset(nfc(e.path) for e in m.entries) for m in self.manifests}) > 1:
            self.found.warn("manifest-sets-differ", f"the payload manifests {', '.join(names)} "
                            "do not list the same files", rule="RFC 8493 §2.1.3")

    def _missing(self, missing: dict[str, list[tuple[Manifest, ManifestEntry]]]) -> set[str]:
        to_fetch = {nfc(e.path) for e in self.fetch}
        excused: set[str] = set()
        for path, hits in missing.items():
            if nfc(path) in to_fetch:
                continue
            lists = ", ".join(sorted({manifest.name for manifest, _ in hits}))
            if is_os_metadata(path) and all(is_empty_digest(m.algorithm, e.digest)
                                            for m, e in hits):
                excused.add(path)
                self.found.warn("os-metadata-file-missing", f"{quoted(path)} (operating-system "
                                f"metadata, zero bytes per {lists}) is not in the bag; copy "
                                "tools often drop such files", path=path, rule="RFC 8493 §3")
                continue
            self.found.error("payload-file-missing", f"{quoted(path)} is listed in {lists} but "
                             "is not in the bag", path=path, rule="RFC 8493 §3")
        return excused

    def _match_tags(self) -> Digests:
        digests: Digests = {}
        tags = self.tree.tags()
        for manifest in self.tag_manifests:
            for entry in manifest.entries:
                if entry.path in tags:
                    by_digest = digests.setdefault(entry.path, {}).setdefault(
                        manifest.algorithm, {})
                    by_digest[entry.digest] = manifest.name
                    continue
                what = "is a directory" if entry.path in self.tree.dirs else "is not in the bag"
                self.found.add("tag-file-missing", f"{manifest.name} lists {quoted(entry.path)}, "
                               f"which {what}", as_error=self.version >= (0, 97),
                               path=entry.path, rule="RFC 8493 §3")
        return digests

    def _check_fetch(self) -> None:
        listed = [(m.name, {nfc(e.path) for e in m.entries}) for m in self.manifests]
        for entry in self.fetch:
            where = f"fetch.txt line {entry.line}"
            if not entry.path.startswith("data/"):
                self.found.error("fetch-target-not-payload", f"{where}: {quoted(entry.path)} is "
                                 "not under data/; fetch.txt lists payload files only",
                                 path=entry.path, rule="RFC 8493 §2.2.3")
                continue
            lacking = [name for name, paths in listed if nfc(entry.path) not in paths]
            if lacking:
                self.found.error("fetch-entry-not-in-manifest", f"{where}: {quoted(entry.path)} is "
                                 f"not listed in {', '.join(lacking)}", path=entry.path,
                                 rule="RFC 8493 §2.2.3")
            disk, _ = self._resolver.resolve(entry.path)
            if disk is None:
                self.found.error("fetch-not-allowed", f"{where}: {quoted(entry.path)} is to be "
                                 f"fetched from {entry.url} and is not in the bag; khoso never "
                                 "downloads: fetch it, then submit the complete bag",
                                 path=entry.path, rule="RFC 8493 §2.2.3")
            elif entry.length is not None and entry.length != self.tree.files[disk]:
                self.found.warn("fetch-length-mismatch", f"{where} gives {entry.length} bytes "
                                f"for {quoted(disk)}, which has {self.tree.files[disk]}", path=disk,
                                rule="RFC 8493 §6.3")

    def _verify_payload(self, digests: Digests) -> dict[str, dict[str, str]]:
        jobs = {p: frozenset(a for a in algs if a in SUPPORTED_ALGORITHMS)
                for p, algs in digests.items()}
        if self.fast:
            self.found.warn("fixity-not-checked", "fast validation: payload checksums were not "
                            "computed; the digests reported are the manifests' own")
            return {p: {a: min(d) for a, d in algs.items() if a in jobs[p]}
                    for p, algs in digests.items()}
        if self.defer:
            self.deferred = {p: DeferredDigests(p, {a: dict(d) for a, d in algs.items()
                                                    if a in jobs[p]})
                             for p, algs in digests.items() if jobs[p]}
            return {}
        return self._compare(self._hash_all(jobs, "payload-file-unreadable"), digests,
                             "payload-digest-mismatch")

    def verify_deferred(self) -> None:
        jobs = {p: frozenset(d.expected) for p, d in self.deferred.items()}
        for rel, actual in self._hash_all(jobs, "payload-file-unreadable").items():
            report_mismatches(self.found, rel, actual, self.deferred[rel].expected,
                              "payload-digest-mismatch")
        self.deferred = {}

    def _verify_tags(self, digests: Digests) -> None:
        jobs = {p: frozenset(a for a in algs if a in SUPPORTED_ALGORITHMS)
                for p, algs in digests.items()}
        computed = self._hash_all(jobs, "tag-file-unreadable")
        self._compare(computed, digests, "tag-digest-mismatch")

    def _hash_all(self, jobs: dict[str, frozenset[str]],
                  unreadable: str) -> dict[str, dict[str, str]]:
        def work(item: tuple[str, frozenset[str]]) -> tuple[str, dict[str, str] | OSError]:
            try:
                return item[0], hash_file(self.root / item[0], item[1])
            except OSError as exc:
                return item[0], exc

        results: dict[str, dict[str, str]] = {}
        with ThreadPoolExecutor(max_workers=self.processes) as pool:
            for rel, outcome in pool.map(work, sorted(jobs.items())):
                if isinstance(outcome, OSError):
                    self.found.errors.append(unreadable_problem(unreadable, rel, outcome))
                else:
                    results[rel] = outcome
        return results

    def _compare(self, computed: dict[str, dict[str, str]], digests: Digests,
                 code: str) -> dict[str, dict[str, str]]:
        for rel, actual in computed.items():
            report_mismatches(self.found, rel, actual, digests[rel], code)
        return computed

    def _check_oxum(self, excused: int) -> None:
        values = [v for label, v in self.info if label.casefold() == "payload-oxum"]
        if not values:
            return
        oxum = parse_oxum(values[0]) if len(set(values)) == 1 else None
        if oxum is None:
            self.found.error("oxum-malformed", f"{self.info_name}: Payload-Oxum "
                             f"{quoted(' / '.join(values))} is not one OctetCount.StreamCount",
                             path=self.info_name, field="Payload-Oxum", rule="RFC 8493 §2.2.2")
            return
        payload = self.tree.payload()
        actual = (sum(self.tree.files[p] for p in payload), len(payload) + excused)
        if oxum != actual:
            self.found.error("oxum-mismatch", f"{self.info_name}: Payload-Oxum {values[0]} "
                             f"declares {oxum[1]} files and {oxum[0]} bytes; the payload has "
                             f"{actual[1]} files and {actual[0]} bytes", path=self.info_name,
                             field="Payload-Oxum", rule="RFC 8493 §2.2.2")

    def _check_names(self) -> None:
        payload = self.tree.payload()
        for problem in find_collisions(payload):
            bucket = (self.found.errors if problem.code == "name-normalization-collision"
                      else self.found.warnings)
            bucket.append(problem)
        for rel in payload:
            if is_os_metadata(rel):
                self.found.warn("os-metadata-file", f"{shown(rel)} is operating-system metadata, "
                                "not part of the records; leave it out of transfers",
                                path=shown(rel))


class _Resolver:
    """Finds the file a manifest entry names: exactly, else by NFC, case or trailing space."""

    def __init__(self, names: list[str]) -> None:
        self.exact = set(names)
        self.by_nfc: dict[str, list[str]] = {}
        self.by_fold: dict[str, list[str]] = {}
        for name in names:
            self.by_nfc.setdefault(nfc(name), []).append(name)
            self.by_fold.setdefault(nfc(name).casefold(), []).append(name)

    def resolve(self, path: str) -> tuple[str | None, str | None]:
        if path in self.exact:
            return path, None
        for index, how in ((self.by_nfc, "normalization"), (self.by_fold, "case")):
            found = index.get(nfc(path).casefold() if how == "case" else nfc(path), [])
            if len(found) == 1:
                return found[0], how
        stripped = path.rstrip(" \t")
        if stripped != path and stripped in self.exact:
            return stripped, "whitespace"
        return None, None

