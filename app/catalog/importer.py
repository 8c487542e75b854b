"""Catalog files (CSV or JSON) parsed and validated as a whole before anything is written.

JSON: a list of cooperations, or {"cooperations": [...]}, each as the API's CooperationIn.
CSV: one product per row; rows with the same brand and title (regardless of case and
spacing) form one cooperation. Columns: brand, title, starts_on, ends_on, notes,
platform_posts (post URLs separated by "|"), utm (key=value pairs separated by "&"), name,
aliases (separated by "|"), description, price, currency, url, discount_code,
discount_details, code_valid_until.

A file names each cooperation once and each product once within its cooperation (by the
matching of app/catalog/merge.py): importing it again updates what it names instead of
adding it twice, so a name given twice is an error, not a guess.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from pydantic import ValidationError

from app.catalog.merge import cooperation_key, norm
from app.catalog.schemas import CooperationIn
from app.errors import AppError

COOPERATION_COLUMNS = (
    "brand",
    "title",
    "starts_on",
    "ends_on",
    "notes",
    "platform_posts",
    "utm",
)
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
    seen: dict[tuple[str, str], int] = {}
    for index, item in enumerate(data):
        where = f"cooperation {index + 1}"
        try:
            cooperation = CooperationIn.model_validate(item)
        except ValidationError as exc:
            errors.extend(_format(exc, where))
            continue
        first = seen.setdefault(cooperation_key(cooperation.brand, cooperation.title), index + 1)
        if first != index + 1:
            errors.append(f"{where}: same brand and campaign as cooperation {first}")
        errors.extend(f"{where}: {e}" for e in _repeated_products(cooperation))
        result.append(cooperation)
    if errors:
        raise ImportError_(errors)
    return result


def _repeated_products(cooperation: CooperationIn) -> list[str]:
    names: set[str] = set()
    repeated: list[str] = []
    for product in cooperation.products:
        if norm(product.name) in names:
            repeated.append(f"product {product.name!r} named twice")
        names.add(norm(product.name))
    return repeated


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
    names: dict[tuple[str, str], set[str]] = {}
    errors: list[str] = []
    for row in reader:
        line = reader.line_num
        values = {k: (v or "").strip() for k, v in row.items() if k is not None}
        key = cooperation_key(values.get("brand", ""), values.get("title", ""))
        # Blank cells are absent values: a new entry takes the schema's defaults, a
        # matched one keeps what is stored.
        cooperation: dict[str, Any] = {c: values[c] for c in COOPERATION_COLUMNS if values.get(c)}
        if "platform_posts" in cooperation:
            posts = cooperation["platform_posts"].split("|")
            cooperation["platform_posts"] = [p.strip() for p in posts if p.strip()]
        group = groups.setdefault(key, cooperation | {"products": []})
        product: dict[str, Any] = {c: values[c] for c in PRODUCT_COLUMNS if values.get(c)}
        if "aliases" in product:  # a blank cell keeps the stored aliases on a re-import
            product["aliases"] = [a for a in product["aliases"].split("|") if a.strip()]
        try:
            CooperationIn.model_validate({**group, "products": [product]})
        except ValidationError as exc:
            errors.extend(_format(exc, f"line {line}"))
            continue
        name = norm(product["name"])
        if name in names.setdefault(key, set()):
            errors.append(
                f"line {line}: product {product['name']!r} named twice in its cooperation"
            )
            continue
        names[key].add(name)
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
