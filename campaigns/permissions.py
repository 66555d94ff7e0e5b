"""The permissions campaign services check (their rows hang on ui.ImportJob, for history)."""

# Launch, schedule, pause, resume, cancel and resend: the Sender role.
SEND = "ui.launch_campaign"
# Approve someone else's campaign when HERALD_REQUIRE_APPROVAL is on.
APPROVE = "ui.approve_campaign"
# Reply to a person who wrote in (the inbox, `whatsapp_reply`): the Marketer role.
REPLY = "ui.reply_inbound"
