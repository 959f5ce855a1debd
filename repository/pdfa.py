"""Normalise a marked copy to PDF/A-2b with Ghostscript (policy ``dissemination.pdfa``).

Ghostscript's stock PDFA_def.ps leaves out the OutputIntent, so we write our own prolog that
embeds the sRGB profile shipped with Ghostscript (INFRA.md). Ghostscript 10.00's new PDF
interpreter drops the ToUnicode maps of the overlay's TrueType subsets, after which
``pdftotext`` reads "TI MT" instead of "TỐI MẬT"; the legacy interpreter (``-dNEWPDF=false``)
keeps them. Every result is checked (pdfaid in XMP, OutputIntent, every font embedded with a
ToUnicode map); a result that fails is not used and the caller keeps the plain marked PDF.
There is no veraPDF here, so this check is heuristic, not a conformance proof.
"""

from __future__ import annotations

import glob
import shutil
import subprocess
import tempfile
from pathlib import Path

import pikepdf

PROLOG = """%!
/ICCProfile ({icc}) def
[/_objdef {{icc_PDFA}} /type /stream /OBJ pdfmark
[{{icc_PDFA}} <</N 3>> /PUT pdfmark
[{{icc_PDFA}} ICCProfile (r) file /PUT pdfmark
[/_objdef {{OutputIntent_PDFA}} /type /dict /OBJ pdfmark
[{{OutputIntent_PDFA}} <<
  /Type /OutputIntent /S /GTS_PDFA1 /DestOutputProfile {{icc_PDFA}}
  /OutputConditionIdentifier (sRGB)
>> /PUT pdfmark
[{{Catalog}} <</OutputIntents [ {{OutputIntent_PDFA}} ]>> /PUT pdfmark
"""


def _srgb_profile() -> Path | None:
    found = sorted(glob.glob("/usr/share/ghostscript/*/iccprofiles/srgb.icc"))
    return Path(found[-1]) if found else None


def available() -> bool:
    return shutil.which("gs") is not None and _srgb_profile() is not None


def to_pdfa(source: Path, target: Path) -> str | None:
    """Write a PDF/A-2b version of ``source`` to ``target``; returns None on success or the
    reason it could not be done (``target`` is then not written)."""
    icc = _srgb_profile()
    if shutil.which("gs") is None or icc is None:
        return "Ghostscript or its sRGB profile is not installed (Debian package ghostscript)"
    with tempfile.TemporaryDirectory(prefix="khoso-pdfa-") as tmp:
        prolog = Path(tmp) / "pdfa.ps"
        prolog.write_text(PROLOG.format(icc=str(icc)), encoding="ascii")
        out = Path(tmp) / "out.pdf"
        why = "Ghostscript failed"
        for legacy in (True, False):
            cmd = ["gs", "-q", "-dPDFA=2", "-dBATCH", "-dNOPAUSE", "-dNOOUTERSAVE",
                   "-dPDFACompatibilityPolicy=1", "-sColorConversionStrategy=RGB",
                   "-sDEVICE=pdfwrite", f"--permit-file-read={icc.parent}/",
                   f"-sOutputFile={out}", str(prolog), str(source)]
            if legacy:
                cmd.insert(2, "-dNEWPDF=false")
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=600,
                                  check=False)
            if done.returncode != 0 or not out.is_file():
                why = f"Ghostscript exited {done.returncode}: {done.stderr.strip()[-300:]}"
                continue
            why = check_pdfa(out) or ""
            if not why:
                shutil.move(out, target)
                return None
        return why


def check_pdfa(path: Path) -> str | None:
    """The heuristic PDF/A-2b check: None when it passes, else what is wrong."""
    with pikepdf.open(path) as pdf:
        meta = pdf.open_metadata()
        if meta.get("pdfaid:part") != "2" or meta.get("pdfaid:conformance") != "B":
            return "no pdfaid part 2 / conformance B in the XMP metadata"
        if not pdf.Root.get("/OutputIntents"):
            return "no OutputIntent"
        if pdf.is_encrypted:
            return "encrypted"
        for obj in pdf.objects:
            if not isinstance(obj, pikepdf.Dictionary) or obj.get("/Type") != "/Font":
                continue
            if obj.get("/Subtype") in ("/CIDFontType0", "/CIDFontType2", "/Type3"):
                continue  # descendants: the Type0 parent carries the ToUnicode map
            if "/ToUnicode" not in obj:
                return f"font {obj.get('/BaseFont')} has no ToUnicode map: text would not " \
                       "extract"
    return None
