"""The report as a file: CSV (one row per day) and the name it is saved under."""

from __future__ import annotations

import csv
import io
import re
import unicodedata

from app.reports.schemas import CSV_COLUMNS, Report


def filename(report: Report, extension: str) -> str:
    """`report-glowlab-autumn-skincare-2026-09-01-2026-09-30.pdf`: ASCII, safe in a header."""
    words = f"{report.cooperation.brand} {report.cooperation.title}"
    ascii_words = unicodedata.normalize("NFKD", words).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_words.lower()).strip("-")[:60].strip("-")
    return f"report-{slug or 'cooperation'}-{report.first}-{report.last}.{extension}"


def as_csv(report: Report) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["date", *CSV_COLUMNS])
    for day in report.days:
        writer.writerow([day.date.isoformat(), *(getattr(day, c) for c in CSV_COLUMNS)])
    return out.getvalue()
