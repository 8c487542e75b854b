"""The evaluation set and runner for drafting, retrieval and the guardrails (issue 4, item 6)."""
