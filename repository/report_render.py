"""Render a report (``repository.reports.build_report``) as JSON, CSV or HTML.

The HTML is one self-contained file: inline CSS and inline SVG charts, no script, no font and
no link to anything outside it, so it opens on an isolated network.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from repository import report_charts

_ENV: Environment | None = None


def environment() -> Environment:
    global _ENV
    if _ENV is None:
        _ENV = Environment(loader=PackageLoader("repository", "templates"),
                           autoescape=select_autoescape(["html"]))
    return _ENV


def charts(report: dict) -> dict[str, Markup]:
    trend = report["audit_trend"]
    return {
        "coverage": Markup(report_charts.coverage_bars(
            [(loc["location"], loc["coverage"]) for loc in report["locations"]])),
        "audits": Markup(report_charts.audit_bars(
            [(d["date"], d["success"], d["failure"]) for d in trend])),
        "coverage_trend": Markup(report_charts.coverage_line(
            [(d["date"], d["coverage"]) for d in trend if d["coverage"] is not None])),
    }


def render(report: dict, fmt: str, **context: Any) -> str:
    if fmt == "json":
        return json.dumps(report, ensure_ascii=False, indent=2)
    if fmt == "csv":
        return _csv(report)
    return environment().get_template("report.html").render(
        r=report, charts=charts(report), **context)


def _csv(report: dict) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["section", "location", "aip", "path", "value", "detail"])
    for loc in report["locations"]:
        writer.writerow(["coverage", loc["location"], "", "", loc["coverage"],
                         f"{loc['verified_in_window']}/{loc['replicas']}"])
    for p in report["open_problems"]:
        writer.writerow(["problem", p["location"], p["aip"], p["path"], p["problem"],
                         p["found_at"]])
    for u in report["unrecoverable"]:
        writer.writerow(["unrecoverable", u["location"], u["aip"], u["path"], u["problem"],
                         u["reason"]])
    for r in report["recent_repairs"]:
        writer.writerow(["repair", r.get("location", ""), r["aip"], r.get("path", ""),
                         r.get("source", ""), r["at"]])
    for aip in report["under_replicated"]:
        writer.writerow(["under-replicated", "", aip, "", "", ""])
    for d in report["audit_trend"]:
        writer.writerow(["trend", "", "", "", d["coverage"] if d["coverage"] is not None else "",
                         f"{d['date']}: {d['success']} verified, {d['failure']} damaged"])
    return buf.getvalue()
