"""The PDF for the brand: it opens, its text layer carries the cooperation, the range and
the totals, and its first page rendered to PNG shows the chart's bars between the chart's
heading and the product table."""

from __future__ import annotations

import io
import re

import pypdfium2 as pdfium
from PIL import Image

from app.reports.pdf import BAR_RGB, LINE_RGB
from tests.harness import Harness
from tests.reports.conftest import report_of
from tests.reports.seed import Seeded

SCALE = 2  # PDF points to pixels


def _near(pixel: float | tuple[int, ...], rgb: tuple[int, int, int]) -> bool:
    assert isinstance(pixel, tuple)  # an RGB image's pixels are tuples, a greyscale one's numbers
    return all(abs(a - b) <= 12 for a, b in zip(pixel[:3], rgb, strict=True))


def _top_of(text_page: pdfium.PdfTextPage, page_height: float, words: str) -> float:
    """Where `words` start on the rendered image, in pixels from the top."""
    found = text_page.search(words).get_next()
    assert found is not None, words
    box: tuple[float, float, float, float] = text_page.get_charbox(found[0])
    return (page_height - box[3]) * SCALE


def _colour_rows(image: Image.Image, rgb: tuple[int, int, int]) -> list[int]:
    pixels = image.convert("RGB").load()
    assert pixels is not None
    width, height = image.size
    return [y for y in range(0, height, 2) for x in range(0, width, 3) if _near(pixels[x, y], rgb)]


async def test_the_pdf_shows_the_totals_and_the_chart(harness: Harness, seeded: Seeded) -> None:
    response = await report_of(harness, seeded.cooperation_id, "?format=pdf")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-disposition"].endswith('-2026-11-01-2026-11-30.pdf"')
    document = pdfium.PdfDocument(io.BytesIO(response.content))
    assert len(document) == 1
    page = document[0]
    width, height = page.get_size()
    assert (round(width), round(height)) == (595, 842)  # A4 in points
    text_page = page.get_textpage()
    text = re.sub(r"\s+", " ", text_page.get_text_range())
    assert "GlowLab — Autumn skincare" in text
    assert "Report by Lena Loves" in text
    assert "01 November 2026 to 30 November 2026" in text
    for figure, label in [
        (4, "Replies sent"),
        (2, "Sent automatically"),
        (1, "Approved by the team"),
        (4, "Codes handed out"),
        (2, "Links sent"),
        (7, "Link clicks"),
        (1, "Answers to comments"),
        (2, "Story mentions"),
        (2, "Posts shared"),
    ]:
        assert f"{figure} {label}" in text, label
    assert "Vitamin C Serum 3 2 1 5 1" in text
    assert "Generated on 07 December 2026" in text

    image = page.render(scale=SCALE).to_pil()
    chart_top = _top_of(text_page, height, "Replies sent and link clicks per day")
    table_top = _top_of(text_page, height, "Per product")
    bars = _colour_rows(image, BAR_RGB)
    assert len(bars) > 20, "no bar of the chart's colour on the page"
    assert chart_top < min(bars)
    assert max(bars) < table_top
    clicks = _colour_rows(image, LINE_RGB)
    assert clicks, "no clicks line"
    assert chart_top < min(clicks)
    assert max(clicks) < table_top
