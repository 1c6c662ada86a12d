"""GET and PUT /api/channels: the organization's active publishing channels."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from handlers import schemas
from handlers.base import BaseHandler
from handlers.fields import Body, Name, ShortText
from handlers.spec import operation
from store import orgs


class ChannelIn(Body):
    value: Literal["web", "mobile", "api", "marketplace", "social", "email"]
    label: Name | None = None
    description: ShortText | None = None


class ChannelsIn(Body):
    channels: Annotated[list[ChannelIn], Field(max_length=6)]


class ChannelsHandler(BaseHandler):
    @operation(data=schemas.ChannelList)
    def get(self) -> None:
        """List active channels

        The publishing channels configured for the organization; web and mobile when
        none are.
        """
        channels = self.db.quick(orgs.list_channels, self.org_id)
        self.reply({"channels": channels, "total": len(channels)})

    @operation(data=schemas.ChannelList, body=ChannelsIn)
    async def put(self) -> None:
        """Configure the active channels

        Replaces the list; an empty list returns to the defaults. Labels and
        descriptions default to the channel's own.
        """
        body = self.json_body(ChannelsIn)
        channels = await self.db.write(orgs.set_channels, self.org_id, [c.model_dump() for c in body.channels])
        self.reply({"channels": channels, "total": len(channels)})
