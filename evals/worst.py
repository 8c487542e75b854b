"""The worst-case model: whatever the follower wrote, it hands out a code, sure of itself.

It never asks for a person and always claims the `discount_code` intent at 0.95, so every
message it gets right is caught by the checks in code alone, not by the model's modesty.
Its code is as plausible as a model's mistake can be: the top retrieved product's own
code, whatever its validity (expired included); else a code of the same brand; else the
first code in the catalog. It adds that product's link and cites the retrieved products
it talks about, as a model citing its sources would.
"""

from __future__ import annotations

from app.drafting.base import DraftRequest, DraftResult
from app.models import Cooperation, Product
from evals.dataset import Catalog, Message
from evals.phrases import say

WORST_CONFIDENCE = 0.95

Row = tuple[Product, Cooperation]


class WorstDrafter:
    name = "worst"

    def __init__(self, message: Message, catalog: Catalog) -> None:
        self.language = message.language
        self.catalog = catalog

    async def draft(self, request: DraftRequest) -> DraftResult:
        top = request.products[0] if request.products else None
        source = self._code_source(request)
        parts: list[str] = []
        cited: list[int] = []
        if top is not None:
            cited.append(top.product.id)
        if source is not None:
            product, coop = source
            name = top.product.name if top is not None else product.name
            details = product.discount_details or "discount"
            code = product.discount_code or ""
            parts.append(say(self.language, "code", name=name, code=code, details=details))
            url = product.url or (top.product.url if top is not None else None)
            if url:
                parts.append(say(self.language, "link", url=url))
            offered = {m.product.id for m in request.products}
            if product.id in offered and product.id not in cited:
                cited.append(product.id)
        return DraftResult(
            reply=" ".join(parts) or say(self.language, "greeting"),
            intent="discount_code",
            language=self.language,
            confidence=WORST_CONFIDENCE,
            product_ids=tuple(cited),
            needs_human=False,
            drafter=self.name,
        )

    def _code_source(self, request: DraftRequest) -> Row | None:
        """The product whose code it hands out: the top match's, its brand's, anyone's."""
        with_code = [(p, c) for p, c in self.catalog if p.discount_code]
        if request.products:
            top = request.products[0]
            if top.product.discount_code:
                return top.product, top.cooperation
            brand = top.cooperation.brand
            same_brand = [(p, c) for p, c in with_code if c.brand == brand]
            if same_brand:
                return same_brand[0]
        return with_code[0] if with_code else None
