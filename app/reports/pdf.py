"""The report as an A4 PDF the influencer attaches to an e-mail to the brand: who and what,
the range, the totals, the day-by-day chart (fpdf2's own drawing), the products, the date
it was made. Pure Python and CPU-bound: call it through app.core.offload.run_cpu_bound.

Text is set in DejaVu Sans when the system has it (Debian's fonts-dejavu-core: any
language's letters); otherwise in the PDF's built-in Helvetica, with letters it cannot
show replaced, so a brand name never stops the file from being made.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path

from fpdf import FPDF
from fpdf.fonts import TTFFont

from app.reports.chart import HEIGHT, WIDTH, chart
from app.reports.schemas import FIGURE_WORDS, Figures, Report

BAR_RGB = (37, 99, 235)  # replies sent
LINE_RGB = (234, 88, 12)  # clicks
INK_RGB, MUTED_RGB = (17, 24, 39), (107, 114, 128)
FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
PRODUCT_COLUMNS = (
    ("replies_sent", "Replies"),
    ("codes_sent", "Codes"),
    ("links_sent", "Links"),
    ("clicks", "Clicks"),
    ("comment_replies", "Comments"),
)
CHART_W, CHART_H = 180.0, 60.0  # mm
_PUNCTUATION = str.maketrans(
    {"—": "-", "–": "-", "‘": "'", "’": "'", "“": '"', "”": '"', "…": "..."}
)


class _Document(FPDF):
    unicode = False

    def setup_fonts(self) -> None:
        regular, bold = FONT_DIR / "DejaVuSans.ttf", FONT_DIR / "DejaVuSans-Bold.ttf"
        if regular.is_file() and bold.is_file():
            self.add_font("body", "", str(regular))
            self.add_font("body", "B", str(bold))
            self.unicode = True

    def use(self, size: float, *, bold: bool = False, rgb: tuple[int, int, int] = INK_RGB) -> None:
        self.set_font("body" if self.unicode else "helvetica", "B" if bold else "", size)
        self.set_text_color(*rgb)

    def clean(self, text: str) -> str:
        if self.unicode:  # leave out what the font cannot draw (emoji): no empty boxes
            font = self.fonts["body"]
            cmap = font.cmap if isinstance(font, TTFFont) else {}
            return "".join(c for c in text if ord(c) in cmap or c in "\n\t")
        plain = unicodedata.normalize("NFKD", text.translate(_PUNCTUATION))
        return (
            "".join(c for c in plain if not unicodedata.combining(c))
            .encode("latin-1", "replace")
            .decode("latin-1")
        )

    def line_of(
        self, text: str, size: float, *, bold: bool = False, rgb: tuple[int, int, int] = INK_RGB
    ) -> None:
        self.use(size, bold=bold, rgb=rgb)
        self.multi_cell(0, size * 0.5, self.clean(text), align="L", new_x="LMARGIN", new_y="NEXT")


def _heading(pdf: _Document, report: Report) -> None:
    c = report.cooperation
    pdf.line_of(f"{c.brand} — {c.title}" if c.title else c.brand, 18, bold=True)
    pdf.line_of(f"Report by {c.account_name}", 11)
    pdf.line_of(f"{report.first:%d %B %Y} to {report.last:%d %B %Y} (UTC days)", 11, rgb=MUTED_RGB)
    pdf.ln(4)


def _totals(pdf: _Document, totals: Figures) -> None:
    per_row, width = 5, 36.0
    top = pdf.get_y()
    for n, (name, label) in enumerate(FIGURE_WORDS.items()):
        x, y = pdf.l_margin + (n % per_row) * width, top + (n // per_row) * 18
        pdf.set_xy(x, y)
        pdf.use(16, bold=True)
        pdf.cell(width - 2, 8, f"{getattr(totals, name):,}")
        pdf.set_xy(x, y + 8)
        pdf.use(8, rgb=MUTED_RGB)
        pdf.cell(width - 2, 5, pdf.clean(label))
    pdf.set_xy(pdf.l_margin, top + 2 * 18 + 4)


def _chart(pdf: _Document, report: Report) -> None:
    drawn = chart(report.days)
    pdf.line_of("Replies sent and link clicks per day", 12, bold=True)
    left, top = pdf.l_margin, pdf.get_y() + 2
    sx, sy = CHART_W / WIDTH, CHART_H / HEIGHT
    pdf.set_fill_color(*BAR_RGB)
    for bar in drawn.bars:
        pdf.rect(left + bar.x * sx, top + bar.y * sy, bar.width * sx, bar.height * sy, style="F")
    pdf.set_draw_color(*LINE_RGB)
    pdf.set_line_width(0.6)
    if len(drawn.clicks) > 1:
        pdf.polyline([(left + x * sx, top + y * sy) for x, y in drawn.clicks])
    pdf.set_draw_color(*MUTED_RGB)
    pdf.set_line_width(0.2)
    pdf.line(left, top + CHART_H, left + CHART_W, top + CHART_H)
    pdf.use(8, rgb=MUTED_RGB)
    for x, label in drawn.labels:
        pdf.set_xy(left + x * sx - 10, top + CHART_H + 1)
        pdf.cell(20, 4, label, align="C")
    pdf.set_xy(left, top + CHART_H + 6)
    pdf.set_fill_color(*BAR_RGB)
    pdf.rect(left, pdf.get_y() + 1, 3, 3, style="F")
    pdf.set_x(left + 4)
    pdf.cell(40, 5, "replies sent")
    pdf.set_fill_color(*LINE_RGB)
    pdf.rect(left + 45, pdf.get_y() + 2, 6, 1, style="F")
    pdf.set_x(left + 53)
    pdf.cell(60, 5, f"link clicks (top of the chart: {drawn.top})")
    pdf.set_xy(left, pdf.get_y() + 9)


def _products(pdf: _Document, report: Report) -> None:
    pdf.line_of("Per product", 12, bold=True)
    if not report.products:
        pdf.line_of("The cooperation has no products.", 10, rgb=MUTED_RGB)
        return
    pdf.use(9)
    pdf.set_fill_color(243, 244, 246)
    pdf.set_draw_color(*MUTED_RGB)
    widths = (70, *(22 for _ in PRODUCT_COLUMNS))
    with pdf.table(
        col_widths=widths, line_height=4.5, text_align=("LEFT", *("RIGHT" for _ in PRODUCT_COLUMNS))
    ) as table:
        table.row(["Product", *(label for _, label in PRODUCT_COLUMNS)])
        for product in report.products:
            cells = [f"{getattr(product, name):,}" for name, _ in PRODUCT_COLUMNS]
            table.row([pdf.clean(product.name), *cells])
    pdf.ln(4)


def render_pdf(report: Report) -> bytes:
    pdf = _Document(orientation="portrait", unit="mm", format="A4")
    pdf.set_title(pdf.clean(f"{report.cooperation.brand} report"))
    pdf.set_creator("inboxpilot")
    pdf.setup_fonts()
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    _heading(pdf, report)
    _totals(pdf, report.totals)
    _chart(pdf, report)
    _products(pdf, report)
    pdf.line_of(
        f"Generated on {report.generated_at:%d %B %Y} by inboxpilot. A reply counts for the "
        "cooperation when it carried one of its products' codes or links or was about one of "
        "them; clicks leave out link previews and repeated clicks within a minute.",
        8,
        rgb=MUTED_RGB,
    )
    return bytes(pdf.output())
