"""Date triggers (birthdays): a daily job enrolls the contacts whose day is coming.

It reads the contacts whose birthday falls today or tomorrow through the month-day index,
two queries per scenario, never the whole base; each journey starts with a wait until the
trigger's local time, so a contact in Tokyo and one in Paris both get their email at 09:00.
Birthday is the one date trigger: finding who has another date (attributes.contract_start)
on a given day would need an index per field or a daily scan of the base, so the validator
refuses the others and points to an event trigger with a wait until the date field.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from chalicelib import clock
from chalicelib.config import settings
from chalicelib.contacts import service as contacts
from chalicelib.scenarios import automation, semantics
from chalicelib.scenarios import service as scenarios
from chalicelib.store.models import Contact

HORIZON = timedelta(hours=36)  # the job runs daily; the overlap covers every time zone


def enroll_due(now: datetime | None = None) -> int:
    """Enroll every contact whose date trigger falls within the horizon; the count enrolled."""
    now = now or clock.now()
    started = 0
    for trigger in scenarios.triggered_by("date:birthday"):
        head = scenarios.head(trigger.scenario_id)
        if head is None or head.status != "live":
            continue
        body = scenarios.definition(head.id, int(head.live_version))
        for month_day in sorted({(now + timedelta(days=offset)).strftime("%m-%d") for offset in (-1, 0, 1, 2)}):
            for hit in Contact.by_birthday.query(month_day):
                contact = contacts.get(hit.id)
                if contact is None or not contact.birthday:
                    continue
                data = contacts.to_api(contact)
                zone = semantics.zone_of(data, body, settings().default_timezone)
                moment = semantics.date_trigger_moment(body["trigger"]["date"], data, zone, now)
                if moment is None or moment - now > HORIZON:
                    continue
                trigger_event = {"id": f"birthday-{moment.year}", "entry_key": str(moment.year),
                                 "type": "date:birthday", "properties": {"date": moment.date().isoformat()}}
                if automation.enroll(contact.id, head, body, trigger_event, at=now,
                                     extra={"start_at": clock.iso(moment)}):
                    started += 1
    return started
