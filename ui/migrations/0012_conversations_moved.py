# The conversations' records moved to inbox/ with the reply service (their tables stay): this
# only removes them from ui's state; inbox's 0001 adds them to its own and moves the content
# types, so granted permissions survive.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("ui", "0011_sender_roles"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name="ConversationReply"),
                migrations.DeleteModel(name="ConversationState"),
            ],
            database_operations=[],
        ),
    ]
