"""A fake OpenAI-compatible `/embeddings` server, on a respx router.

Its vectors are bags of concepts: each concept is a set of words (in any language) and
owns one dimension, so "chapped lips" and "Honey Lip Balm" point the same way while
sharing no word a lexical match could use. Records every request; can fail on demand.
"""

from __future__ import annotations

import json
import math
from typing import Any

import httpx
import respx

from app.core.text import tokens

CONCEPTS: tuple[frozenset[str], ...] = tuple(
    frozenset(tokens(words))
    for words in (
        "lip lips chapped balm mouth labbra lippen",
        "skin serum glow bright vitamin brightening",
        "hike hiking rain waterproof jacket shell mountain",
        "run running shoe sneaker marathon",
        "coffee espresso bean roast",
    )
)


class FakeEmbeddings:
    def __init__(self, router: respx.MockRouter, base_url: str) -> None:
        self.route = router.post(f"{base_url}/embeddings").mock(side_effect=self._handle)
        self.requests: list[dict[str, Any]] = []
        self.failing = False

    @property
    def texts(self) -> list[str]:
        return [text for body in self.requests for text in body["input"]]

    @staticmethod
    def vector(text: str) -> list[float]:
        words = tokens(text)
        counts = [float(sum(w in concept for w in words)) for concept in CONCEPTS]
        counts.append(0.1)  # never the zero vector
        norm = math.sqrt(sum(c * c for c in counts))
        return [c / norm for c in counts]

    def _handle(self, request: httpx.Request) -> httpx.Response:
        body: dict[str, Any] = json.loads(request.content)
        self.requests.append(body)
        if self.failing:
            return httpx.Response(500, json={"error": {"message": "boom", "type": "server_error"}})
        data = [
            {"object": "embedding", "index": i, "embedding": self.vector(text)}
            for i, text in enumerate(body["input"])
        ]
        usage = {"prompt_tokens": 1, "total_tokens": 1}
        return httpx.Response(
            200, json={"object": "list", "data": data, "model": body["model"], "usage": usage}
        )
