"""Background jobs of segments and lists: a full build (parallel scan of the base), a removal.

A build evaluates every contact against one segment: each part of the job is one segment of a
DynamoDB parallel scan of the contacts table, a page of 100 contacts per step. Events and field
changes keep the segment current meanwhile (an evaluation is idempotent, whoever runs it).
"""
from __future__ import annotations

from pynamodb.exceptions import DoesNotExist, UpdateError

from chalicelib import clock, criteria, faults
from chalicelib.audience import jobs, members
from chalicelib.audience.jobs import Step
from chalicelib.segments import engine
from chalicelib.store.audience import AudienceList, Job, Member, Segment, SegmentCheck
from chalicelib.store.models import Contact

PAGE = 100


def _segment(head: Job) -> Segment | None:
    try:
        segment = Segment.get(head.params["segment"], consistent_read=True)
    except DoesNotExist:
        return None
    if segment.status == "deleting" or int(segment.generation) != int(head.params["generation"]):
        return None
    return segment


def _checks_of(page: list[Contact], definition: engine.Definition) -> dict[str, dict[str, str]] | None:
    """The page's checks of a time-relative segment, in one read (BatchGetItem) rather than a
    Query per contact; None when the evaluation must read each contact's own (not time-relative,
    or other segments test this one, so an evaluation may go on to theirs)."""
    if not definition.time_relative or not page or engine.definitions_for([f"segment:{definition.id}"]):
        return None
    found: dict[str, dict[str, str]] = {}
    for check in SegmentCheck.batch_get([(contact.id, definition.id) for contact in page], consistent_read=True):
        found.setdefault(check.contact_id, {})[check.segment_id] = check.due_at
    return found


class SegmentBuild:
    def parts(self, head: Job, phase: int) -> int:
        return int(head.params["total"])

    def step(self, head: Job, part: Job, index: int) -> Step:
        segment = _segment(head)
        if segment is None:  # deleted or redefined: a newer build (if any) takes over
            jobs.cancel(head.id, "the segment changed")
            return Step(None)
        definition = engine.Definition(segment.id, segment.criteria,
                                       criteria.dependencies(segment.criteria).time_relative,
                                       int(segment.generation))
        result = Contact.scan(segment=index, total_segments=int(head.parts), limit=PAGE,
                              last_evaluated_key=part.cursor)
        page = list(result)
        checks = _checks_of(page, definition)
        evaluated = entered = left = 0
        for contact in page:
            evaluated += 1
            loaded = engine.Loaded(contact, consistent=False)
            if checks is not None:
                loaded.dues = checks.get(contact.id, {})
            changes = engine.evaluate_loaded(loaded, {segment.id: definition},
                                             cause=f"build:{head.id}:{contact.id}", source="build")
            for segment_id, inside in changes:
                if segment_id == segment.id:
                    entered += inside
                    left += not inside
        return Step(result.last_evaluated_key, {"evaluated": evaluated, "entered": entered, "left": left})

    def phase_done(self, head: Job, phase: int, parts: list[Job]) -> tuple[int, dict | None]:
        return 0, None

    def finished(self, head: Job) -> None:
        now = clock.iso(clock.now())
        try:
            Segment(head.params["segment"]).update(
                actions=[Segment.status.set("ready"), Segment.built_at.set(now)],
                condition=(Segment.generation == int(head.params["generation"])) & (Segment.job_id == head.id))
        except UpdateError as error:
            if not faults.lost_to_condition(error):
                raise  # otherwise redefined meanwhile: its own build will say when it is ready

    def failed(self, head: Job, error: str) -> None:
        try:
            Segment(head.params["segment"]).update(actions=[Segment.status.set("failed")],
                                                   condition=Segment.job_id == head.id)
        except UpdateError as refused:
            if not faults.lost_to_condition(refused):
                raise


class GroupDelete:
    """Remove every member of a deleted list or segment (no list.left / segment.left: the group
    is gone, not the contacts), then the group itself."""

    def parts(self, head: Job, phase: int) -> int:
        return jobs.parts_for(members.count(head.params["kind"], head.params["id"]))

    def step(self, head: Job, part: Job, index: int) -> Step:
        kind, group_id = head.params["kind"], head.params["id"]
        items, cursor = members.page(kind, group_id, PAGE, part.cursor, members.key_range(index, int(head.parts)))
        for item in items:
            outcome = members.change(kind, group_id, item.member, joining=False)
            if not outcome.changed:  # the contact is gone, or was out already: the member item goes anyway
                Member(item.group, item.member).delete()
        return Step(cursor, {"removed": len(items)})

    def phase_done(self, head: Job, phase: int, parts: list[Job]) -> tuple[int, dict | None]:
        return 0, None

    def finished(self, head: Job) -> None:
        kind, group_id = head.params["kind"], head.params["id"]
        members.drop_counters(kind, group_id)
        model = AudienceList if kind == "list" else Segment
        try:
            model(group_id).delete(condition=model.job_id == head.id)
        except Exception:  # recreated meanwhile under a new job: keep it
            pass

    def failed(self, head: Job, error: str) -> None:
        pass
