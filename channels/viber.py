"""Viber Business Messages (Infobip's `VIBER_BM`): text, an image, one button that opens a link."""

from channels.messages_api import MessagesApiChannel


class Viber(MessagesApiChannel):
    name = "viber"
    label = "Viber"
    ledger = "viber"
    medium_label = "Viber"
    infobip_channel = "VIBER_BM"
    sender_kind = "viber"  # a Viber service id registered with Infobip
    sender_setting = "INFOBIP_VIBER_SENDER"
    max_chars_setting = "HERALD_VIBER_MAX_CHARS"  # Viber's 1,000 characters
    price_keys = ("viber",)
    # A Viber business message carries one button, and it opens a link (Viber's rule).
    max_buttons = 1
    buttons_need_url = True
    button_text_max = 30
