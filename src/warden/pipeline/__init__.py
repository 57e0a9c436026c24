"""The inspector pipeline shared by every connection type."""

from warden.pipeline.chain import ChannelChain, Pipeline
from warden.pipeline.request import JsonRequestView
from warden.pipeline.types import (
    Channel,
    ChannelInspector,
    ChannelKind,
    ChannelOut,
    Decision,
    Direction,
    Exchange,
    Flow,
    Identity,
    Inspector,
    RequestView,
    SlotKind,
    TextSlot,
)

__all__ = [
    "Channel",
    "ChannelChain",
    "ChannelInspector",
    "ChannelKind",
    "ChannelOut",
    "Decision",
    "Direction",
    "Exchange",
    "Flow",
    "Identity",
    "Inspector",
    "JsonRequestView",
    "Pipeline",
    "RequestView",
    "SlotKind",
    "TextSlot",
]
