"""What a cooperation's report says: the same figures for the whole range, each day and
each product (INTERFACE.md, "Reports")."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field


class ReplyFigures(BaseModel):
    replies_sent: int = Field(
        0,
        description="replies that carried a code or link of the "
        "cooperation's products, or were drafted about one of them",
    )
    auto_sent: int = Field(0, description="of them, sent automatically")
    approved: int = Field(0, description="of them, drafted by the bot and approved by a person")
    by_hand: int = Field(0, description="of them, written by a person")
    codes_sent: int = Field(
        0, description="discount codes handed out (one per product a reply carried the code of)"
    )
    links_sent: int = Field(0, description="product links handed out (one per product)")
    clicks: int = Field(
        0, description="clicks on the tracked links (previews and repeats not counted)"
    )
    comment_replies: int = Field(0, description="replies sent privately to a comment")


class Figures(ReplyFigures):
    story_mentions: int = Field(
        0, description="followers' story mentions that concern the cooperation"
    )
    shares: int = Field(0, description="followers' messages sharing one of its posts")


Day = date  # the field below is called `date`, as the API names it


class DayFigures(Figures):
    date: Day


class ProductFigures(ReplyFigures):
    product_id: int
    name: str


class CooperationInfo(BaseModel):
    id: int
    account_id: int
    account_name: str
    brand: str
    title: str
    starts_on: date | None
    ends_on: date | None


class Report(BaseModel):
    """Days are UTC days; a reply counts on the day it was sent."""

    model_config = ConfigDict(populate_by_name=True)

    cooperation: CooperationInfo
    first: date = Field(alias="from")
    last: date = Field(alias="to")
    generated_at: datetime
    totals: Figures
    days: list[DayFigures]
    products: list[ProductFigures]


CSV_COLUMNS = tuple(f for f in DayFigures.model_fields if f != "date")

# The figures in a brand's words (the page and the PDF), in the order they are shown.
FIGURE_WORDS = {
    "replies_sent": "Replies sent",
    "auto_sent": "Sent automatically",
    "approved": "Approved by the team",
    "by_hand": "Written by the team",
    "codes_sent": "Codes handed out",
    "links_sent": "Links sent",
    "clicks": "Link clicks",
    "comment_replies": "Answers to comments",
    "story_mentions": "Story mentions",
    "shares": "Posts shared",
}
