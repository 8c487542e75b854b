"""Intents in the words an influencer uses: pages say "discount-code answers", not
`discount_code`."""

from __future__ import annotations

INTENT_WORDS = {
    "discount_code": "discount-code answers",
    "product_link": "product-link answers",
    "price": "price answers",
    "code_validity": "answers about whether a code still works",
    "product_info": "answers to product questions",
    "greeting": "greetings",
    "thanks": "thank-you replies",
    "other": "other answers",
}


def intent_words(intent: str) -> str:
    return INTENT_WORDS.get(intent, f"“{intent.replace('_', ' ')}” answers")
