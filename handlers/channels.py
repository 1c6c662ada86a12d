"""GET and PUT /api/channels: the organization's active publishing channels."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from handlers.base import BaseHandler
from handlers.fields import Body, Name, ShortText
from store import orgs


class ChannelIn(Body):
    value: Literal["web", "mobile", "api", "marketplace", "social", "email"]
    label: Name | None = None
    description: ShortText | None = None


class ChannelsIn(Body):
    channels: Annotated[list[ChannelIn], Field(max_length=6)]


class ChannelsHandler(BaseHandler):
    def get(self) -> None:
        channels = orgs.list_channels(self.org_id)
        self.reply({"channels": channels, "total": len(channels)})

    def put(self) -> None:
        body = self.json_body(ChannelsIn)
        channels = orgs.set_channels(self.org_id, [c.model_dump() for c in body.channels])
        self.reply({"channels": channels, "total": len(channels)})
