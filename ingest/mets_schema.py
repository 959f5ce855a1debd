"""METS documents checked against the METS 1.12 schema (E-ARK CSIP: METS files are valid
METS), offline.

``schemas/mets.xsd`` is the Digital Library Federation's METS 1.12 schema (CC0, unchanged);
``schemas/xlink.xsd`` declares the XLink attributes it imports. The schema names the XLink
schema by an http URL: the resolver maps it to the local file, and the parser has no network,
so nothing is ever fetched. The compiled schema is made once per process; a validation and
the reading of its error log hold a lock (the log belongs to the schema object).
"""

from __future__ import annotations

import threading
from pathlib import Path

from lxml import etree

SCHEMAS = Path(__file__).parent / "schemas"
XLINK_URL = "http://www.loc.gov/standards/xlink/xlink.xsd"
MAX_REPORTED = 20

_lock = threading.Lock()
_schema: etree.XMLSchema | None = None


class _LocalSchemas(etree.Resolver):
    def resolve(self, url, pubid, context):  # type: ignore[no-untyped-def]
        if url == XLINK_URL or url.endswith("/xlink.xsd") or url == "xlink.xsd":
            return self.resolve_filename(str(SCHEMAS / "xlink.xsd"), context)
        return None


def _mets_schema() -> etree.XMLSchema:  # the caller holds _lock
    global _schema
    if _schema is None:
        parser = etree.XMLParser(no_network=True, resolve_entities=False)
        parser.resolvers.add(_LocalSchemas())
        _schema = etree.XMLSchema(etree.parse(str(SCHEMAS / "mets.xsd"), parser))
    return _schema


def schema_errors(root: etree._Element) -> list[tuple[int, str]]:
    """(line, message) of each way ``root`` breaks the METS schema, at most MAX_REPORTED."""
    with _lock:
        schema = _mets_schema()
        if schema.validate(root.getroottree()):
            return []
        return [(e.line, e.message) for e in list(schema.error_log)[:MAX_REPORTED]]
