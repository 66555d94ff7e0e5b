"""RCS business messaging (Infobip's `RCS`): text, an image, up to four suggestion buttons."""

from channels.messages_api import MessagesApiChannel


class Rcs(MessagesApiChannel):
    name = "rcs"
    label = "RCS"
    ledger = "rcs"
    medium_label = "RCS"
    infobip_channel = "RCS"
    sender_kind = "rcs"  # an RCS agent id registered with Infobip
    sender_setting = "INFOBIP_RCS_SENDER"
    max_chars_setting = "HERALD_RCS_MAX_CHARS"  # RCS business messages: 3,072 characters
    price_keys = ("rcs",)
    # Suggested replies and actions: a chip's text is at most 25 characters.
    max_buttons = 4
    button_text_max = 25
