"""Catalog files (CSV or JSON) parsed and validated as a whole before anything is written.

JSON: a list of cooperations, or {"cooperations": [...]}, each as the API's CooperationIn.
CSV: one product per row; rows with the same brand and title form one cooperation.
Columns: brand, title, starts_on, ends_on, notes, platform_posts (post URLs separated by
"|"), name, aliases (separated by "|"), description, price, currency, url, discount_code,
discount_details, code_valid_until.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from pydantic import ValidationError

from app.catalog.schemas import CooperationIn
from app.errors import AppError

COOPERATION_COLUMNS = ("brand", "title", "starts_on", "ends_on", "notes", "platform_posts")
PRODUCT_COLUMNS = (
    "name",
    "aliases",
    "description",
    "price",
    "currency",
    "url",
    "discount_code",
    "discount_details",
    "code_valid_until",
)


class ImportError_(AppError):
    status_code = 422

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors[:20]) + (" ..." if len(errors) > 20 else ""))
        self.errors = errors


def _format(exc: ValidationError, where: str) -> list[str]:
    return [
        f"{where}: {'.'.join(str(p) for p in err['loc']) or 'value'}: {err['msg']}"
        for err in exc.errors()
    ]


def parse_catalog(content: bytes, filename: str = "") -> list[CooperationIn]:
    """Parses the whole file or raises ImportError_ listing every problem found."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportError_(["file is not UTF-8 text"]) from exc
    stripped = text.lstrip()
    if filename.lower().endswith(".json") or stripped.startswith(("[", "{")):
        return _parse_json(text)
    return _parse_csv(text)


def _parse_json(text: str) -> list[CooperationIn]:
    try:
        data: Any = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ImportError_([f"line {exc.lineno}: invalid JSON: {exc.msg}"]) from exc
    except (ValueError, RecursionError) as exc:
        # A number of more than 4300 digits, or arrays nested thousands deep.
        raise ImportError_([f"invalid JSON: {exc}"[:200]]) from exc
    if isinstance(data, dict):
        data = data.get("cooperations")
    if not isinstance(data, list):
        raise ImportError_(['expected a list of cooperations or {"cooperations": [...]}'])
    result: list[CooperationIn] = []
    errors: list[str] = []
    for index, item in enumerate(data):
        try:
            result.append(CooperationIn.model_validate(item))
        except ValidationError as exc:
            errors.extend(_format(exc, f"cooperation {index + 1}"))
    if errors:
        raise ImportError_(errors)
    return result


def _parse_csv(text: str) -> list[CooperationIn]:
    reader = csv.DictReader(io.StringIO(text))
    try:
        return _read_csv(reader)
    except csv.Error as exc:  # e.g. a cell longer than the csv module's field limit
        raise ImportError_([f"line {reader.line_num}: {exc}"]) from exc


def _read_csv(reader: csv.DictReader[str]) -> list[CooperationIn]:
    missing = {"brand", "name"} - set(reader.fieldnames or [])
    if missing:
        raise ImportError_([f"line 1: missing column(s): {', '.join(sorted(missing))}"])
    unknown = set(reader.fieldnames or []) - set(COOPERATION_COLUMNS) - set(PRODUCT_COLUMNS)
    if unknown:
        raise ImportError_([f"line 1: unknown column(s): {', '.join(sorted(unknown))}"])
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    errors: list[str] = []
    for row in reader:
        line = reader.line_num
        values = {k: (v or "").strip() for k, v in row.items() if k is not None}
        key = (values.get("brand", ""), values.get("title", ""))
        # Blank cells are absent values: the schema's defaults apply.
        cooperation: dict[str, Any] = {c: values[c] for c in COOPERATION_COLUMNS if values.get(c)}
        if "platform_posts" in cooperation:
            posts = cooperation["platform_posts"].split("|")
            cooperation["platform_posts"] = [p.strip() for p in posts if p.strip()]
        group = groups.setdefault(key, cooperation | {"products": []})
        product: dict[str, Any] = {c: values[c] for c in PRODUCT_COLUMNS if values.get(c)}
        product["aliases"] = [a for a in (values.get("aliases") or "").split("|") if a.strip()]
        try:
            CooperationIn.model_validate({**group, "products": [product]})
        except ValidationError as exc:
            errors.extend(_format(exc, f"line {line}"))
            continue
        group["products"].append(product)
    if errors:
        raise ImportError_(errors)
    result: list[CooperationIn] = []
    for (brand, title), group in groups.items():
        try:  # each row was valid alone; together they may be too many products
            result.append(CooperationIn.model_validate(group))
        except ValidationError as exc:
            errors.extend(_format(exc, f"cooperation {brand!r} {title!r}"))
    if errors:
        raise ImportError_(errors)
    return result
