"""The moderator's desk: server-rendered pages (Jinja2 + htmx) over the domain services."""
