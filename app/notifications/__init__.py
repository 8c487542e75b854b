"""Alerts when a person is needed: e-mail digests, web push, the waiting count."""
