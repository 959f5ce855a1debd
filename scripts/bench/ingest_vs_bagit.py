"""Ingest of a mixed transfer into two local locations vs what an archivist would do by hand.

Baseline (same data, same run): cp the transfer, `bagit.py --sha256 -p 2` on it, cp the bag to
a second place, `bagit.py --validate -p 2` the copy. khoso: `khoso ingest` (every check on:
virus scan, format identification, PDF checks) into two file:// locations, each copy read back
and verified. Only the `khoso ingest` command is timed (start-up included); `khoso init` and
`storage add` of the second location happen before, as an archive centre does them once.
Prints khoso / baseline (target <= 1.0, aim 0.7).

With ``--as-bag`` khoso is given each transfer as a BagIt bag made beforehand by bagit.py
(``--bag-checksums``, default sha256; outside the timing), so the ingest includes validating
the submitted bag; the baseline is unchanged (it starts from the plain transfer).

    .venv/bin/python scripts/bench/ingest_vs_bagit.py [--mb 470] [--files 1500] [--small 20000]
        [--no-virus-scan] [--as-bag [--bag-checksums sha256,md5]]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import VENV_BIN, make_mixed_transfer, make_small_files, run, timed, with_clamd


def khoso_setup(work: Path, env: dict[str, str]) -> tuple[list[str], dict[str, str]]:
    """A home with two file:// locations (not timed: an archive centre sets this up once);
    returns the ingest command and its environment."""
    home = work / "home"
    khoso = str(VENV_BIN / "khoso")
    run([khoso, "--home", str(home), "init"], env)
    if "KHOSO_CLAMD_SOCKET" not in env:  # --no-virus-scan: the policy allows it, said so
        intake = home / "policies" / "intake.yaml"
        intake.write_text(intake.read_text().replace("allow_without_scanner: false",
                                                     "allow_without_scanner: true"))
        env = {**env, "KHOSO_CLAMD_SOCKET": str(work / "no-scanner.sock")}
    run([khoso, "--home", str(home), "storage", "add", "second", (work / "second").as_uri()], env)
    return [khoso, "--home", str(home), "ingest"], env


def baseline(work: Path, transfer: Path) -> None:
    bag = work / "bag"
    run(["cp", "-r", str(transfer), str(bag)])
    run([str(VENV_BIN / "bagit.py"), "--sha256", "--processes", "2", str(bag)])
    run(["cp", "-r", str(bag), str(work / "bag-copy")])
    run([str(VENV_BIN / "bagit.py"), "--validate", "--processes", "2", str(work / "bag-copy")])


def make_submitted_bag(transfer: Path, bag: Path, checksums: list[str]) -> Path:
    """The transfer as a submitter would send it: a bag made by bagit.py (not timed)."""
    shutil.rmtree(bag, ignore_errors=True)
    run(["cp", "-r", str(transfer), str(bag)])
    run([str(VENV_BIN / "bagit.py"), *(f"--{c}" for c in checksums), "--processes", "2",
         str(bag)])
    return bag


def compare(name: str, work: Path, transfer: Path, env: dict[str, str],
            submitted: Path | None = None, repeat: int = 1) -> dict[str, object]:
    """Baseline and khoso on the same data, ``repeat`` times interleaved; best of each (the
    machine's load moves from minute to minute) and the ratio of the bests."""
    print(f"{name}:", file=sys.stderr)
    label = "every check" if env else "every check but the virus scan"
    if submitted is not None:
        label += ", submitted as a bag"
    runs: dict[str, list[float]] = {"baseline": [], "khoso": []}
    for n in range(repeat):
        results: dict[str, float] = {}
        for sub in ("baseline", "khoso"):
            shutil.rmtree(work / sub / str(n), ignore_errors=True)
            (work / sub / str(n)).mkdir(parents=True)
        run(["sync"])
        with timed("baseline (cp + bagit.py + cp + bagit.py --validate)", results):
            baseline(work / "baseline" / str(n), transfer)
        run(["sync"])
        ingest, ingest_env = khoso_setup(work / "khoso" / str(n), env)
        run(["sync"])
        with timed(f"khoso ingest (2 verified copies, {label})", results):
            run([*ingest, str(submitted or transfer), "--json"], ingest_env)
        base, ours = results.values()
        runs["baseline"].append(round(base, 2))
        runs["khoso"].append(round(ours, 2))
        for sub in ("baseline", "khoso"):  # the next round starts from the same free space
            shutil.rmtree(work / sub / str(n), ignore_errors=True)
    base, ours = min(runs["baseline"]), min(runs["khoso"])
    return {"baseline_s": base, "khoso_s": ours, "ratio": round(ours / base, 3), "runs": runs}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=int, default=470)
    parser.add_argument("--files", type=int, default=1500)
    parser.add_argument("--small", type=int, default=20000,
                        help="files in the small-files run (0 to skip)")
    parser.add_argument("--no-virus-scan", action="store_true",
                        help="measure khoso without ClamAV (the baseline scans nothing)")
    parser.add_argument("--as-bag", action="store_true",
                        help="give khoso each transfer as a bag made by bagit.py beforehand")
    parser.add_argument("--repeat", type=int, default=1,
                        help="rounds of baseline and khoso, interleaved; best of each")
    parser.add_argument("--bag-checksums", default="sha256",
                        help="with --as-bag: the bag's manifest algorithms, comma-separated")
    args = parser.parse_args()
    checksums = [c.strip() for c in args.bag_checksums.split(",") if c.strip()]
    work = Path(tempfile.mkdtemp(prefix="khoso-bench-"))
    env, stop = ({}, lambda: None) if args.no_virus_scan else with_clamd(work)
    out: dict[str, object] = {}
    try:
        mixed = make_mixed_transfer(work / "mixed", args.mb * 10**6, args.files)
        bag = make_submitted_bag(mixed, work / "mixed-bag", checksums) if args.as_bag else None
        out["mixed"] = {"mb": args.mb, "files": args.files,
                        **({"as_bag": checksums} if bag else {}),
                        **compare("mixed transfer", work, mixed, env, bag, args.repeat)}
        if args.small:
            small = make_small_files(work / "small", args.small)
            bag = (make_submitted_bag(small, work / "small-bag", checksums) if args.as_bag
                   else None)
            out["small_files"] = {"files": args.small,
                                  **({"as_bag": checksums} if bag else {}),
                                  **compare("small files", work, small, env, bag, args.repeat)}
    finally:
        stop()
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
