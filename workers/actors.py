"""The pipeline's actors. Each is thin: one core step (its own short transactions), then enqueue."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import dramatiq
import structlog
from dramatiq.middleware import CurrentMessage
from sqlalchemy.exc import OperationalError

import workers.broker  # noqa: F401 - the broker must exist before any actor is declared
from dsr.core.ledger.db import session_scope, units_of_work
from dsr.core.pipeline import runner, tasks
from dsr.core.replies import alerts
from dsr.core.runtime.process import Runtime
from dsr.core.runtime.steps import Step, StepName
from dsr.errors import DeliveryError, NotFound, RetriableStoreError
from workers import runtime

log = structlog.get_logger(__name__)


# Steps a worker carries on with itself: the worker whose task finished a request builds the
# reply and sends it, instead of two more queue hops. One that fails here is handed to its
# own actor, so it gets the same retries as if it had been sent in the first place. The doors
# (CLI, API) never do: they send these, and answer without waiting on a store or SMTP.
_CARRIED_ON = (StepName.AGGREGATE, StepName.DELIVER)


def _execute(actor: StepName, object_id: str) -> list[Step]:
    rt = runtime.get()
    try:
        return runner.execute(units_of_work(rt.db_url), rt, Step(actor, object_id))
    except NotFound:
        _dead_letter(rt, object_id)
        raise  # not retried: dramatiq moves the message to the dead-letter queue


def _run(actor: StepName, object_id: str) -> None:
    """An actor's message: its step, then what follows (the reply carried on here)."""
    enqueue(_execute(actor, object_id), carry_on=True)


def _dead_letter(rt: Runtime, object_id: str) -> None:
    """A message names a row this ledger does not have (another ledger's message?): ops are
    told, in this ledger and the log, and the message is kept in the dead-letter queue."""
    message = CurrentMessage.get_current_message()
    actor = message.actor_name if message is not None else "?"
    with session_scope(rt.db_url) as session:
        alerts.raise_alert(
            session,
            rt.settings,
            reason="message_without_row",
            occasion=f"{actor}:{object_id}",
            actor=actor,
            object_id=object_id,
        )


def enqueue(follow: Iterable[Step], *, carry_on: bool = False) -> None:
    """Send the next steps (after commit); advance and fan-in run inline, each in its own
    transaction, so they see every commit that came before them. ``carry_on`` (workers only):
    run the reply's steps here too, after the others are sent."""
    here = []
    for step in follow:
        if step.actor in runner.INLINE:
            enqueue(_execute(step.actor, step.id), carry_on=carry_on)
        elif carry_on and step.actor in _CARRIED_ON:
            here.append(step)
        else:
            ACTORS[step.actor].send(step.id)
    for step in here:
        try:
            _run(step.actor, step.id)
        except NotFound:
            pass  # ops were told (_dead_letter); a message would only say it again
        except Exception as err:  # noqa: BLE001 - its own actor retries it, with backoff
            log.warning("carried_on_step_failed", actor=step.actor, error=type(err).__name__)
            ACTORS[step.actor].send(step.id)


def _transient(retries: int, exc: BaseException) -> bool:
    """Store, ledger or network hiccups are retried with backoff; anything else is final."""
    retriable = isinstance(exc, RetriableStoreError | DeliveryError | OperationalError | OSError)
    return retriable and retries < runtime.get().settings.task_max_retries


@dramatiq.actor(queue_name="dsr", retry_when=_transient)
def dispatch_request(request_id: str) -> None:
    _run(StepName.DISPATCH, request_id)


@dramatiq.actor(
    queue_name="dsr",
    throws=(NotFound,),
    retry_when=_transient,
    on_retry_exhausted="connector_task_exhausted",
)
def run_connector_task(task_id: str) -> None:
    _run(StepName.RUN_TASK, task_id)


@dramatiq.actor(queue_name="dsr", max_retries=10)
def connector_task_exhausted(message_data: dict[str, Any], retry_info: dict[str, Any]) -> None:
    """The retry budget is spent: mark the task failed so fan-in can finish (needs_attention)."""
    task_id = message_data["args"][0]
    log.warning(
        "connector_task_failed_for_good", task_id=task_id, retries=retry_info.get("retries")
    )
    with session_scope(runtime.get().db_url) as session:
        follow = tasks.fail(session, task_id, "retries exhausted")
    enqueue(follow, carry_on=True)


@dramatiq.actor(queue_name="dsr", retry_when=_transient)
def aggregate_request(request_id: str) -> None:
    _run(StepName.AGGREGATE, request_id)


@dramatiq.actor(queue_name="dsr", retry_when=_transient)
def deliver_message(outbox_id: str) -> None:
    """Send one outbox row; when retries run out the row stays pending for the scheduler."""
    _run(StepName.DELIVER, outbox_id)


ACTORS: dict[StepName, dramatiq.Actor[Any, Any]] = {
    StepName.DISPATCH: dispatch_request,
    StepName.RUN_TASK: run_connector_task,
    StepName.AGGREGATE: aggregate_request,
    StepName.DELIVER: deliver_message,
}
