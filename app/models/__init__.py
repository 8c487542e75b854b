"""All models, so that `import app.models` registers every table on the metadata."""

from app.models.account import Account, AccountMember
from app.models.attempt import AttemptCounter
from app.models.audit import AuditEntry
from app.models.base import Base
from app.models.catalog import Cooperation, Product, ProductEmbedding
from app.models.comment import CommentReply, CommentTrigger
from app.models.contact import Contact
from app.models.conversation import Conversation
from app.models.draft import DRAFT_STATUSES, SENT_ALONE, Draft, DraftStatus
from app.models.inbox_event import UNPROCESSED, InboxEvent, InboxStatus
from app.models.job import Job
from app.models.link import LinkClick, TrackedLink
from app.models.mark import Mark, ReplyMark
from app.models.message import Message
from app.models.notification import AlertSettings, NotifiedItem, PushSubscription
from app.models.oauth import OAuthState
from app.models.outbound import IN_FLIGHT, OutboundMessage, SendStatus
from app.models.privacy import DeletionRequest
from app.models.user import ApiToken, Invitation, User
from app.models.web_session import WebSession

__all__ = [
    "DRAFT_STATUSES",
    "IN_FLIGHT",
    "SENT_ALONE",
    "UNPROCESSED",
    "Account",
    "AlertSettings",
    "AccountMember",
    "ApiToken",
    "AttemptCounter",
    "AuditEntry",
    "Base",
    "CommentReply",
    "CommentTrigger",
    "Contact",
    "Conversation",
    "Cooperation",
    "DeletionRequest",
    "Draft",
    "DraftStatus",
    "InboxEvent",
    "InboxStatus",
    "Invitation",
    "Job",
    "LinkClick",
    "Mark",
    "Message",
    "NotifiedItem",
    "OAuthState",
    "OutboundMessage",
    "Product",
    "ProductEmbedding",
    "PushSubscription",
    "ReplyMark",
    "SendStatus",
    "TrackedLink",
    "User",
    "WebSession",
]
