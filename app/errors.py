"""The error base every domain subclasses; one handler renders it as {"detail": ...}."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class AppError(Exception):
    status_code = 400

    def __init__(self, message: str, status_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if status_code is not None:
            self.status_code = status_code


class NotFound(AppError):
    status_code = 404


class Forbidden(AppError):
    status_code = 403


class Conflict(AppError):
    status_code = 409


class FieldProblem(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class ErrorOut(BaseModel):
    """The body of every 4xx answer of the JSON API."""

    detail: str | list[FieldProblem] = Field(
        description="what is wrong: a sentence, or for a request that does not match the "
        "schema, one entry per problem"
    )


# `responses=` for the JSON API's routers: documents the real error body for every 4xx
# (FastAPI's default documents a 422 with a list only, and our domain 422s carry a sentence).
API_ERRORS: dict[int | str, dict[str, Any]] = {
    "4XX": {
        "model": ErrorOut,
        "description": "Refused: 401 without a valid token, 403 or 404 for another account's "
        "data, 409 on a conflict, 413 for a body too large, 422 for invalid input",
    }
}
