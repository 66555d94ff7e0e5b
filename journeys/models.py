"""Journeys: triggered, multi-step automation, and the rows that make it exact.

- `Journey` is what a marketer names and switches on; its definitions are `JourneyVersion`s
  (activating an edit makes a new version; contacts in flight finish on theirs).
- `Event` is something a contact did, recorded through the API (`POST /api/v1/events`).
- `JourneyMember` is one row per (journey, contact) ever let in: the database's gate for the
  re-entry rule (an upsert that lets a contact in again only when the rule allows it).
- `JourneyEntry` is one contact's pass through a journey: where they are, and when their next
  step is due. Waits are these rows with a due time, swept in batches by the engine with
  `FOR UPDATE SKIP LOCKED` — no Celery countdowns.
- `EntryStep` is the journey's ledger: one row per step an entry took, written in the same
  transaction as the entry's move (and, for a send, the campaign ledger row), so a crash
  neither repeats a step nor loses one.
- `StepCount` keeps each step's counters (entered, waiting, sent, exited by reason), moved by
  the engine in the same transactions, so the builder and the API never count the ledger.
- `SendStep` links a version's send step to the hidden, open-ended campaign whose ledger,
  claims and batches send its messages (campaigns/journeyrows.py).
"""

from django.conf import settings
from django.db import models
from django.db.models import Q


class JourneyState(models.TextChoices):
    DRAFT = "draft", "Draft"
    ACTIVE = "active", "Active"
    PAUSED = "paused", "Paused"
    ARCHIVED = "archived", "Archived"


class ExitReason(models.TextChoices):
    COMPLETED = "completed", "Completed"
    GOAL = "goal", "Reached the goal"
    OPTED_OUT = "opted_out", "Opted out"
    ARCHIVED = "archived", "Journey archived"
    STOPPED = "stopped", "Stopped by an operator"


class Journey(models.Model):
    """A named automation: a trigger, a re-entry rule, a goal and steps (its versions)."""

    name = models.CharField(max_length=200, unique=True)
    state = models.CharField(
        max_length=10, choices=JourneyState.choices, default=JourneyState.DRAFT, db_index=True
    )
    state_reason = models.CharField(max_length=500, blank=True)
    # The definition being edited; activating it makes the next version.
    draft = models.JSONField(default=dict)
    version = models.ForeignKey(
        "JourneyVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The seed of the journey's random splits (core.draw): a contact lands in the same branch
    # however often the step runs, on any worker.
    seed = models.CharField(max_length=32, editable=False)
    # The live version's trigger, copied out for matching (events, keywords, lists) by index.
    trigger_type = models.CharField(max_length=20, blank=True)
    trigger_event = models.CharField(max_length=100, blank=True, db_index=True)
    trigger_keyword = models.CharField(max_length=64, blank=True)
    trigger_number = models.CharField(max_length=20, blank=True)
    trigger_list = models.ForeignKey(
        "contacts.ContactList", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # segment: the segment whose new members enter (its id: a renamed segment keeps working, a
    # deleted one matches nobody). message: the outcome (delivered, failed, clicked, replied)
    # and, when the trigger names one, the campaign whose messages count (no foreign key: a
    # deleted campaign must not widen the trigger to every campaign).
    trigger_segment_id = models.BigIntegerField(null=True, blank=True)
    trigger_outcome = models.CharField(max_length=10, blank=True)
    trigger_campaign_id = models.BigIntegerField(null=True, blank=True)
    goal_event = models.CharField(max_length=100, blank=True, db_index=True)
    # archive: "finish" lets contacts in flight finish, "stop" makes them leave.
    archive_mode = models.CharField(max_length=10, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    activated_at = models.DateTimeField(null=True, blank=True)
    archived_at = models.DateTimeField(null=True, blank=True)
    # Date-attribute and segment triggers: when last swept (a segment journey never swept takes
    # its first sweep as the baseline: who matches at activation is not "starting to match").
    swept_through = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # Two live journeys cannot claim the same keyword on the same number (the database
            # says so, whatever surface activates them).
            models.UniqueConstraint(
                fields=["trigger_keyword", "trigger_number"],
                condition=Q(state__in=["active", "paused"]) & ~Q(trigger_keyword=""),
                name="journey_keyword_once",
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_state_display()})"


class JourneyVersion(models.Model):
    """One activated definition of a journey; entries keep the version they entered on."""

    journey = models.ForeignKey(Journey, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    definition = models.JSONField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["journey", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["journey", "number"], name="journey_version_once")
        ]

    def __str__(self) -> str:
        return f"{self.journey.name} v{self.number}"


class SendStep(models.Model):
    """A send step of a version and the hidden campaign whose ledger sends its messages."""

    version = models.ForeignKey(JourneyVersion, on_delete=models.CASCADE, related_name="sends")
    step_id = models.CharField(max_length=64)
    campaign = models.OneToOneField(
        "campaigns.Campaign", on_delete=models.PROTECT, related_name="journey_step"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["version", "step_id"], name="journey_send_step_once")
        ]

    def __str__(self) -> str:
        return f"{self.version} {self.step_id} → campaign {self.campaign_id}"


class Event(models.Model):
    """Something a contact did, as another system told Herald (`POST /api/v1/events`)."""

    name = models.CharField(max_length=100)
    # Checked once per statement, not per row (migration 0005, docs/DATABASE.md "Events").
    contact = models.ForeignKey(
        "contacts.Contact",
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    key = models.CharField(max_length=200, blank=True)
    properties = models.JSONField(default=dict, blank=True)
    occurred_at = models.DateTimeField()
    received_at = models.DateTimeField()
    # The sender's own id for the event (a batch's `id`): the same event sent twice is one row.
    external_id = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001
    source = models.CharField(max_length=20, default="api")

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["external_id"],
                condition=Q(external_id__isnull=False),
                name="journey_event_external_once",
            )
        ]
        indexes = [
            # wait_for a named event, goals, the contact's story.
            models.Index(fields=["contact", "name", "received_at"], name="journey_event_contact"),
            # Backtests replay a name's events over a period.
            models.Index(fields=["name", "received_at"], name="journey_event_name"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.key})" if self.key else self.name


class JourneyMember(models.Model):
    """A contact a journey has let in, and when last: the gate of the re-entry rule."""

    # Checked once per statement, not per row (migration 0005, docs/DATABASE.md "Events").
    journey = models.ForeignKey(
        Journey, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    contact = models.ForeignKey(
        "contacts.Contact",
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    entries = models.PositiveIntegerField(default=1)
    last_entered_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["journey", "contact"], name="journey_member_once")
        ]

    def __str__(self) -> str:
        return f"{self.contact_id} in {self.journey_id} ×{self.entries}"


class SegmentMember(models.Model):
    """A contact matching a segment journey's segment as of its last sweep (the trigger's
    memory): a contact enters when a sweep finds it matching and not here; a contact that stops
    matching is removed, so matching again is a new start."""

    journey = models.ForeignKey(Journey, on_delete=models.CASCADE, related_name="+", db_index=False)
    contact = models.ForeignKey(
        "contacts.Contact", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    matched_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["journey", "contact"], name="journey_segment_member")
        ]

    def __str__(self) -> str:
        return f"{self.contact_id} matches {self.journey_id}"


class JourneyEntry(models.Model):
    """One contact's pass through a journey: the step they are at and when it is due."""

    class State(models.TextChoices):
        ACTIVE = "active", "In the journey"
        DONE = "done", "Left"

    class Phase(models.TextChoices):
        READY = "ready", "Step due"
        WAITING = "waiting", "Waiting"

    # No index of its own: journey_entry_source (journey, source) leads with it and serves the
    # same lookups, and every entry written or moved paid one more index write for it.
    # The four keys are checked once per statement, not per row (migration 0005,
    # docs/DATABASE.md "Events").
    journey = models.ForeignKey(
        Journey,
        on_delete=models.CASCADE,
        related_name="entries",
        db_index=False,
        db_constraint=False,
    )
    version = models.ForeignKey(
        JourneyVersion, on_delete=models.PROTECT, related_name="+", db_constraint=False
    )
    contact = models.ForeignKey(
        "contacts.Contact",
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    # The contact's nth entry into this journey (JourneyMember.entries): the campaign ledger's
    # attempt number of its sends, so two entries of one contact are two ledger rows.
    seq = models.PositiveIntegerField(default=1)
    key = models.CharField(max_length=200, blank=True)
    # once_per_key: set, so the partial unique index lets a contact in once per key.
    unique_key = models.BooleanField(default=False)
    # What let them in ("event:<id>", "inbound:<id>", "list:<list id>:<contact id>",
    # "date:<YYYY-MM-DD>:<contact>"): one entry per journey and cause, however often the
    # trigger is processed.
    source = models.CharField(max_length=100)
    event = models.ForeignKey(
        Event,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    properties = models.JSONField(default=dict, blank=True)
    state = models.CharField(max_length=8, choices=State.choices, default=State.ACTIVE)
    step = models.CharField(max_length=64)
    phase = models.CharField(max_length=8, choices=Phase.choices, default=Phase.READY)
    due_at = models.DateTimeField(null=True, blank=True)
    # wait_for: reply | click | delivered | event:<name>, since when, and "then" once it came.
    wait_event = models.CharField(max_length=110, blank=True)
    waiting_since = models.DateTimeField(null=True, blank=True)
    resolved = models.CharField(max_length=8, blank=True)
    # The campaign ledger row (campaigns.Message pk) of the entry's latest send; no foreign
    # key, as the engine writes both in one transaction and the report path must not pay.
    last_message = models.BigIntegerField(null=True, blank=True)
    steps_taken = models.PositiveIntegerField(default=0)
    entered_at = models.DateTimeField()
    exited_at = models.DateTimeField(null=True, blank=True)
    exit_reason = models.CharField(max_length=12, choices=ExitReason.choices, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["journey", "contact", "key"],
                condition=Q(unique_key=True),
                name="journey_entry_once_per_key",
            ),
            models.UniqueConstraint(fields=["journey", "source"], name="journey_entry_source"),
        ]
        indexes = [
            # The engine's sweep: a journey's due entries, oldest first. Partial: entries that
            # left cost no entry in it.
            models.Index(
                fields=["journey", "due_at"], condition=Q(state="active"), name="journey_entry_due"
            ),
            # A delivery report or click for a message an entry waits on.
            models.Index(
                fields=["last_message"],
                condition=Q(state="active", phase="waiting") & ~Q(wait_event=""),
                name="journey_entry_awaiting",
            ),
            # Goals, replies, named events and the contact's page: a contact's entries.
            models.Index(fields=["contact", "journey"], name="journey_entry_contact"),
        ]

    def __str__(self) -> str:
        return f"{self.contact_id} in {self.journey_id} at {self.step} ({self.state})"


class EntryStep(models.Model):
    """The journey ledger: one step one entry took, and how it went."""

    entry = models.ForeignKey(
        JourneyEntry, on_delete=models.CASCADE, related_name="steps", db_index=False
    )
    n = models.PositiveIntegerField()
    step_id = models.CharField(max_length=64)
    step_type = models.CharField(max_length=10)
    at = models.DateTimeField()
    # sent | skipped | waited | then | else | branch name | updated | notified | held | exited
    outcome = models.CharField(max_length=20)
    detail = models.CharField(max_length=300, blank=True)
    message = models.BigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["entry", "n"]
        constraints = [models.UniqueConstraint(fields=["entry", "n"], name="journey_step_once")]

    def __str__(self) -> str:
        return f"{self.entry_id}#{self.n} {self.step_id}: {self.outcome}"


class StepCount(models.Model):
    """Live counters of one step of one version (step "" is the journey's entrance)."""

    journey = models.ForeignKey(
        Journey, on_delete=models.CASCADE, related_name="counts", db_index=False
    )
    version = models.ForeignKey(JourneyVersion, on_delete=models.CASCADE, related_name="+")
    step_id = models.CharField(max_length=64)
    entered = models.BigIntegerField(default=0)
    waiting = models.BigIntegerField(default=0)
    sent = models.BigIntegerField(default=0)
    delayed = models.BigIntegerField(default=0)
    then = models.BigIntegerField(default=0)
    otherwise = models.BigIntegerField(default=0)
    exited_completed = models.BigIntegerField(default=0)
    exited_goal = models.BigIntegerField(default=0)
    exited_opted_out = models.BigIntegerField(default=0)
    exited_archived = models.BigIntegerField(default=0)
    exited_stopped = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["journey", "version", "step_id"], name="journey_count_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.journey_id} v{self.version_id} {self.step_id or '(entrance)'}"


class JourneyTest(models.Model):
    """A test of a journey's draft started from the builder (`journey test` on the draft page):
    the definition as tested, the scripted events, and what each test contact got, and when."""

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    journey = models.ForeignKey(Journey, on_delete=models.CASCADE, related_name="tests")
    definition = models.JSONField()
    events = models.TextField(blank=True)
    state = models.CharField(max_length=8, choices=State.choices, default=State.QUEUED)
    report = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"test {self.pk} of {self.journey_id} ({self.state})"
