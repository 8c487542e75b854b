"""Intents in the words an influencer uses, in the two ways pages need them: what a
follower asks ("a discount code") and the bot's answers to it ("discount-code answers"),
never `discount_code`. The one place both are written (the desk's headlines in
app/ui/words.py, the rules page's proposals and the sent list use them)."""

from __future__ import annotations

# What the follower asks for: "Answers about a discount code always wait for you".
INTENT_TOPICS = {
    "discount_code": "a discount code",
    "product_link": "where to buy",
    "price": "the price",
    "code_validity": "whether a code still works",
    "product_info": "product details",
    "greeting": "a hello",
    "thanks": "a thank-you",
    "other": "something else",
}

# The bot's answers of an intent: "discount-code answers may be sent without review".
INTENT_ANSWERS = {
    "discount_code": "discount-code answers",
    "product_link": "product-link answers",
    "price": "price answers",
    "code_validity": "answers about whether a code still works",
    "product_info": "answers to product questions",
    "greeting": "greetings",
    "thanks": "thank-you replies",
    "other": "other answers",
}


def intent_topic(intent: str) -> str:
    return INTENT_TOPICS.get(intent, intent.replace("_", " "))


def intent_words(intent: str) -> str:
    """The bot's answers of `intent`, as the rules page and the sent list say them."""
    return INTENT_ANSWERS.get(intent, f"“{intent.replace('_', ' ')}” answers")
