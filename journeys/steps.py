"""What each step does to a batch of entries due at it (the send step is journeys/sending.py).

Every handler decides for a whole batch of entries at one step of one version and writes into
the batch's plan: a journey-ledger row per entry, and its move (the next step, a wait's due
time, or its exit). Queries are per batch and rule, never per entry.
"""

from __future__ import annotations

from collections.abc import Callable

from django.db import transaction

from campaigns.suppression import contacts_suppress
from contacts.models import ConsentSource, ContactList
from contacts.services import (
    contact_list_add,
    contact_list_remove,
    contacts_opt_in,
    contacts_set_attributes,
)
from core.draw import pick
from journeys.arrival import READY, WAITING, arrive, leave, move_on
from journeys.batch import Batch
from journeys.models import ExitReason
from journeys.plan import Due, Move
from journeys.rules import branch_matches
from journeys.sending import send_step
from journeys.spec import Definition, Step
from journeys.waits import happened

WAIT_WORDS = {"reply": "a reply", "click": "a click", "delivered": "the delivery"}
DONE_WORDS = {"reply": "replied", "click": "clicked", "delivered": "delivered"}


def run_group(batch: Batch, version_id: int, step_id: str, phase: str, dues: list[Due]) -> None:
    """Run the entries of one (version, step, phase) group of the batch."""
    definition = batch.definition(version_id)
    step = definition.step(step_id)
    if phase == WAITING and step.type == "wait":
        for due in dues:
            what = f"until {step.raw['until']}" if step.until else step.raw.get("for", "")
            batch.plan.record(due, "waited", what)
            move_on(batch, due, step.next, taken=due.steps_taken + 1)
        return
    if phase == WAITING and step.type == "wait_for":
        return _wait_for_due(batch, step, dues)
    if step.type in ("wait", "wait_for"):
        # Reached as the first step (entries are let in at their first step, due now): the
        # wait starts when they reached it.
        for due in dues:
            move = Move(due.id, "active", step.id, READY, due.due_at, steps_taken=due.steps_taken)
            arrive(batch, due, step, move, due.due_at)
            batch.plan.moves[due.id] = move
        return
    HANDLERS[step.type](batch, step, definition, dues)


def _wait_for_due(batch: Batch, step: Step, dues: list[Due]) -> None:
    undecided = [d for d in dues if d.resolved != "then"]
    came = happened(
        [
            (d.id, d.contact_id, d.key, d.wait_event, d.last_message, d.waiting_since or d.due_at)
            for d in undecided
        ]
    )
    kind = str(step.raw["event"])
    for due in dues:
        taken = due.steps_taken + 1
        if due.resolved == "then" or due.id in came:
            batch.plan.record(due, "then", DONE_WORDS.get(kind, f"event {kind}"))
            batch.plan.count(due.version_id, step.id, "then")
            move_on(batch, due, step.then, taken=taken)
        else:
            what = WAIT_WORDS.get(kind, f"no event {kind}")
            if kind in WAIT_WORDS:
                what = f"no {kind}"
            batch.plan.record(due, "else", f"{what} within {step.raw['timeout']}")
            batch.plan.count(due.version_id, step.id, "otherwise")
            move_on(batch, due, step.otherwise, taken=taken)


def _branch(batch: Batch, step: Step, definition: Definition, dues: list[Due]) -> None:
    matched = branch_matches(
        step.raw["rule"], [(d.id, d.contact_id, d.properties) for d in dues], now=batch.now
    )
    for due in dues:
        yes = due.id in matched
        batch.plan.record(due, "then" if yes else "else", "matched" if yes else "did not match")
        batch.plan.count(due.version_id, step.id, "then" if yes else "otherwise")
        move_on(batch, due, step.then if yes else step.otherwise, taken=due.steps_taken + 1)


def _split(batch: Batch, step: Step, definition: Definition, dues: list[Due]) -> None:
    weights = [weight for _, weight, _ in step.branches]
    seed = f"{batch.seed}:{step.id}"
    for due in dues:
        # The same contact lands in the same branch however often it runs (core.draw).
        name, _, nxt = step.branches[pick(seed=seed, key=due.contact_id, weights=weights)]
        batch.plan.record(due, name, f"branch {name}")
        move_on(batch, due, nxt, taken=due.steps_taken + 1)


def _update(batch: Batch, step: Step, definition: Definition, dues: list[Due]) -> None:
    ids = sorted({due.contact_id for due in dues})
    raw = step.raw
    done: list[str] = []
    if batch.dry:  # a replay: what it would change, nothing changed
        for due in dues:
            batch.plan.record(due, "updated", "not applied in a replay")
            move_on(batch, due, step.next, taken=due.steps_taken + 1)
        return
    # Each change in a savepoint of its own: the contacts' services keep their own rules.
    with transaction.atomic():
        for name in raw.get("add_to_lists") or []:
            contact_list, _ = ContactList.objects.get_or_create(name=name)
            contact_list_add(contact_list=contact_list, contact_ids=ids)
            done.append(f"added to {name}")
        for name in raw.get("remove_from_lists") or []:
            found = ContactList.objects.filter(name=name).first()
            if found is not None:
                contact_list_remove(contact_list=found, contact_ids=ids)
            done.append(f"removed from {name}")
        if raw.get("set"):
            contacts_set_attributes(contact_ids=ids, values=raw["set"])
            done.append("set " + ", ".join(sorted(raw["set"])))
        note = f"journey {batch.journey_id} step {step.id}"
        if raw.get("consent") == "opt_out":
            contacts_suppress(
                contact_ids=ids, source=ConsentSource.JOURNEY, channel="all", note=note
            )
            done.append("opted out")
        elif raw.get("consent") == "opt_in":
            contacts_opt_in(contact_ids=ids, source=ConsentSource.JOURNEY, note=note)
            done.append("opted in")
    detail = "; ".join(done)
    for due in dues:
        batch.plan.record(due, "updated", detail)
        move_on(batch, due, step.next, taken=due.steps_taken + 1)


def _notify(batch: Batch, step: Step, definition: Definition, dues: list[Due]) -> None:
    data = step.raw.get("data") or {}
    for due in dues:
        batch.plan.record(due, "notified", "journey.notify sent")
        batch.plan.notifies.append((due.id, step.id, data))
        move_on(batch, due, step.next, taken=due.steps_taken + 1)


def _exit(batch: Batch, step: Step, definition: Definition, dues: list[Due]) -> None:
    for due in dues:
        batch.plan.record(due, "exited", "completed at an exit step")
        leave(batch.plan, due, ExitReason.COMPLETED, taken=due.steps_taken + 1)


HANDLERS: dict[str, Callable[[Batch, Step, Definition, list[Due]], None]] = {
    "send": send_step,
    "branch": _branch,
    "split": _split,
    "update": _update,
    "notify": _notify,
    "exit": _exit,
}
