"""CDS Hooks 2.0.1 request, response and feedback shapes (HL7 cds-hooks, tag v2.0.1).

There is no official JSON Schema; these models follow the specification's field tables.
Requests are checked strictly where the specification says MUST and leniently elsewhere
(EHRs add fields), so an unknown extra field is ignored rather than refused.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, model_validator

SUMMARY_LIMIT = 139
"""The spec's "<140-character" summary, read strictly."""

_LENIENT = ConfigDict(extra="allow", frozen=True)
_OUT = ConfigDict(extra="forbid", frozen=True)


class FhirAuthorization(BaseModel):
    model_config = _LENIENT
    access_token: str = Field(min_length=1)
    token_type: Literal["Bearer"]
    expires_in: int
    scope: str
    subject: str
    patient: str | None = None


class HookRequest(BaseModel):
    model_config = _LENIENT
    hook: str = Field(min_length=1)
    hookInstance: str = Field(min_length=1, max_length=128)  # noqa: N815 (spec field name)
    fhirServer: HttpUrl | None = None  # noqa: N815
    fhirAuthorization: FhirAuthorization | None = None  # noqa: N815
    context: dict[str, Any]
    prefetch: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _server_with_authorization(self) -> Self:
        if self.fhirAuthorization is not None and self.fhirServer is None:
            raise ValueError("fhirServer is required when fhirAuthorization is sent")
        return self


class Coding(BaseModel):
    model_config = _OUT
    system: str | None = None
    code: str
    display: str | None = None


class Source(BaseModel):
    model_config = _OUT
    label: str
    url: str | None = None
    topic: Coding | None = None


class Link(BaseModel):
    model_config = _OUT
    label: str
    url: str
    type: Literal["absolute", "smart"] = "absolute"
    appContext: str | None = Field(  # noqa: N815 (spec field name)
        default=None,
        description="Only for `smart` links: passed by the EHR to the app in its token response.",
    )

    @model_validator(mode="after")
    def _app_context_only_for_smart(self) -> Self:
        if self.appContext is not None and self.type != "smart":
            raise ValueError("appContext is only valid on a smart link")
        return self


class Action(BaseModel):
    model_config = _OUT
    type: Literal["create", "update", "delete"]
    description: str
    resource: dict[str, Any] | None = None
    resourceId: list[str] | None = None  # noqa: N815


class Suggestion(BaseModel):
    model_config = _OUT
    label: str
    uuid: str | None = None
    isRecommended: bool | None = None  # noqa: N815
    actions: list[Action] = []


class Card(BaseModel):
    model_config = _OUT
    uuid: str
    summary: str = Field(max_length=SUMMARY_LIMIT)
    detail: str | None = None
    indicator: Literal["info", "warning", "critical"]
    source: Source
    suggestions: list[Suggestion] | None = None
    selectionBehavior: Literal["at-most-one", "any"] | None = None  # noqa: N815
    overrideReasons: list[Coding] | None = None  # noqa: N815
    links: list[Link] | None = None

    @model_validator(mode="after")
    def _selection_with_suggestions(self) -> Self:
        if self.suggestions and self.selectionBehavior is None:
            raise ValueError("selectionBehavior is required when a card has suggestions")
        return self


class HookResponse(BaseModel):
    model_config = _OUT
    cards: list[Card]
    systemActions: list[Action] = []  # noqa: N815


class ServiceDescriptor(BaseModel):
    model_config = _OUT
    hook: str
    title: str
    description: str
    id: str
    prefetch: dict[str, str]
    usageRequirements: str | None = None  # noqa: N815


class Discovery(BaseModel):
    model_config = _OUT
    services: list[ServiceDescriptor]


class OverrideReason(BaseModel):
    model_config = _LENIENT
    reason: Coding | None = None
    userComment: str | None = Field(default=None, max_length=2000)  # noqa: N815


class AcceptedSuggestion(BaseModel):
    model_config = _LENIENT
    id: str


class FeedbackItem(BaseModel):
    model_config = _LENIENT
    card: str = Field(min_length=1, max_length=128)
    outcome: Literal["accepted", "overridden"]
    acceptedSuggestions: list[AcceptedSuggestion] | None = None  # noqa: N815
    overrideReason: OverrideReason | None = None  # noqa: N815
    outcomeTimestamp: datetime  # noqa: N815

    @model_validator(mode="after")
    def _accepted_names_suggestions(self) -> Self:
        if self.outcome == "accepted" and not self.acceptedSuggestions:
            raise ValueError("acceptedSuggestions is required when outcome is 'accepted'")
        if self.outcomeTimestamp.tzinfo is None:
            raise ValueError("outcomeTimestamp must carry a time zone (RFC 3339, UTC)")
        return self


class Feedback(BaseModel):
    model_config = _LENIENT
    feedback: list[FeedbackItem] = Field(min_length=1, max_length=500)


class FeedbackReceipt(BaseModel):
    model_config = _OUT
    received: int
    stored: int = Field(description="Items not seen before; repeats are acknowledged, not stored.")
