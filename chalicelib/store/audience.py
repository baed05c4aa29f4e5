"""Audience tables (lists, segments, scores, activity, jobs, suppression) and their AWS helpers.

Registered in AUDIENCE_MODELS, created with the rest. Keys follow the access patterns:

- lists, segments: one item per list or segment, by id.
- members: hash `group` ("list#ID" / "segment#ID"), range the contact id: a group's members
  are one Query (paginated); the group's count lives in COUNTER_SHARDS counter items of the
  same partition (range "#count#NN", sorted before every contact id), adjusted in the same
  transaction as the membership, so counts are exact and never need a scan.
- segment-deps: hash `dep` ("event:TYPE", "field:PATH", "list:ID", "segment:ID", "any": a new contact),
  range the segment id, carrying the criteria: the segments an event or a field change can
  affect are one Query, never a scan.
- segment-checks: hash contact id, range segment id, `due_at`: when time alone can next change
  that contact's membership; the `by-due` index (hash "DAY#SHARD", range due_at) is what the
  refresh schedule reads, so it touches only the contacts whose membership may change.
- scores: the decayed event points of a contact at a reference time (exponential decay is
  memoryless, so one number and one instant are the whole history).
- activity: each contact's count of counted activities at the last rank computation.
- audience-settings: scoring and activity settings and the schedules' state, by name.
- jobs: hash job id, range "head" / "p:PHASE:PART" (a parallel-scan part and its cursor) /
  "lines:NNNNNN" (a chunk of an import's per-line report). Heads of unfinished jobs carry
  `active` and are found through the sparse `by-active` index.
- suppressions: keyed HMAC-SHA256 digests of erased addresses (salt: the token secret).
"""
from __future__ import annotations

import hashlib
import hmac
import json
import zlib
from decimal import Decimal
from functools import lru_cache
from typing import Any

import boto3
from pynamodb.attributes import (
    BooleanAttribute,
    JSONAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
    VersionAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import Model

from chalicelib import clock
from chalicelib.config import settings
from chalicelib.store.models import Contact, Event, EventId, _meta
from chalicelib.vocabulary import client_event_id, system_event_id

COUNTER_SHARDS = 16
COUNTER_PREFIX = "#count#"
FIRST_MEMBER = "#~"  # every contact id sorts after this; every counter item before


class AudienceList(Model):
    Meta = _meta("lists")

    id = UnicodeAttribute(hash_key=True)
    name = UnicodeAttribute(null=True)
    description = UnicodeAttribute(null=True)
    status = UnicodeAttribute(null=True)  # None (live) | deleting
    job_id = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute(null=True)
    updated_at = UnicodeAttribute(null=True)


class Segment(Model):
    Meta = _meta("segments")

    id = UnicodeAttribute(hash_key=True)
    name = UnicodeAttribute()
    description = UnicodeAttribute(null=True)
    criteria = JSONAttribute()
    builtin = BooleanAttribute(default=False)
    status = UnicodeAttribute(default="building")  # building | ready | deleting
    generation = NumberAttribute(default=1)  # bumped by every change of criteria
    job_id = UnicodeAttribute(null=True)
    built_at = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()


class SegmentDep(Model):
    Meta = _meta("segment-deps")

    dep = UnicodeAttribute(hash_key=True)
    segment_id = UnicodeAttribute(range_key=True)
    criteria = JSONAttribute()
    time_relative = BooleanAttribute(default=False)
    generation = NumberAttribute(default=1)


class Member(Model):
    Meta = _meta("members")

    group = UnicodeAttribute(hash_key=True)  # "list#ID" | "segment#ID"
    member = UnicodeAttribute(range_key=True)  # contact id | "#count#NN"
    at = UnicodeAttribute(null=True)
    source = UnicodeAttribute(null=True)
    count = NumberAttribute(null=True)  # counter items only


class ByDue(GlobalSecondaryIndex):
    class Meta:
        index_name = "by-due"
        projection = AllProjection()

    bucket = UnicodeAttribute(hash_key=True)  # "YYYY-MM-DD#SHARD"
    due_at = UnicodeAttribute(range_key=True)


class SegmentCheck(Model):
    Meta = _meta("segment-checks")

    contact_id = UnicodeAttribute(hash_key=True)
    segment_id = UnicodeAttribute(range_key=True)
    due_at = UnicodeAttribute()
    bucket = UnicodeAttribute()

    by_due = ByDue()


class ScoreState(Model):
    Meta = _meta("scores")

    contact_id = UnicodeAttribute(hash_key=True)
    points = NumberAttribute(default=0)  # event points, decayed to `at`
    at = UnicodeAttribute(null=True)
    fields = NumberAttribute(default=0)  # points of the criteria rules the profile matches
    score = NumberAttribute(default=0)  # what was last written on the contact
    stage = UnicodeAttribute(default="visitor")
    rescored_by = UnicodeAttribute(null=True)  # the rescore job that last recomputed it from history
    delta = NumberAttribute(default=0)  # points of events received after `delta_job` started, decayed to `at`
    delta_job = UnicodeAttribute(null=True)
    version = VersionAttribute()


class ActivityCount(Model):
    Meta = _meta("activity")

    contact_id = UnicodeAttribute(hash_key=True)
    count = NumberAttribute()
    previous_rank = NumberAttribute(default=0)
    job_id = UnicodeAttribute()
    computed_at = UnicodeAttribute()
    expires_at = TTLAttribute(null=True)


class AudienceSetting(Model):
    Meta = _meta("audience-settings")

    name = UnicodeAttribute(hash_key=True)
    value = JSONAttribute(null=True)
    state = JSONAttribute(null=True)
    updated_at = UnicodeAttribute(null=True)
    # the "routing" item (events.routing): what scenarios, segments and webhooks read (only ever
    # added to), and what the scoring settings read (replaced with them)
    reads = UnicodeSetAttribute(null=True)
    scoring_reads = UnicodeSetAttribute(null=True)


class ByActive(GlobalSecondaryIndex):
    class Meta:
        index_name = "by-active"
        projection = KeysOnlyProjection()

    active = UnicodeAttribute(hash_key=True)


class Job(Model):
    Meta = _meta("jobs")

    id = UnicodeAttribute(hash_key=True)
    part = UnicodeAttribute(range_key=True)  # "head" | "p:PHASE:PART" | "lines:NNNNNN"
    kind = UnicodeAttribute(null=True)
    params = JSONAttribute(null=True)
    status = UnicodeAttribute(null=True)  # awaiting_upload | pending | running | done | failed | cancelled
    active = UnicodeAttribute(null=True)  # heads of unfinished jobs: "1" (sparse index)
    phase = NumberAttribute(null=True)
    parts = NumberAttribute(null=True)
    parts_done = NumberAttribute(null=True)
    cursor = JSONAttribute(null=True)
    counters = JSONAttribute(null=True)
    data = JSONAttribute(null=True)  # per-kind results (histograms, rank tables, report lines)
    lease_until = NumberAttribute(null=True)  # wall-clock seconds: a crashed worker's part is taken over
    owner = UnicodeAttribute(null=True)  # the claim holding the lease
    attempts = NumberAttribute(null=True)
    error = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute(null=True)
    updated_at = UnicodeAttribute(null=True)
    finished_at = UnicodeAttribute(null=True)
    expires_at = TTLAttribute(null=True)

    by_active = ByActive()


class Suppression(Model):
    Meta = _meta("suppressions")

    digest = UnicodeAttribute(hash_key=True)
    kind = UnicodeAttribute()  # email | phone | external_id
    at = UnicodeAttribute()
    reason = UnicodeAttribute(null=True)


AUDIENCE_MODELS: list[type[Model]] = [AudienceList, Segment, SegmentDep, Member, SegmentCheck, ScoreState,
                                      ActivityCount, AudienceSetting, Job, Suppression]


# -- contacts and events inside our transactions -------------------------------------------


def contact_ref(contact_id: str) -> Contact:
    """A contact to update by actions, without reading it first.

    The update bumps the contact's version (so a concurrent read-modify-write of the whole
    contact retries instead of overwriting what we wrote) and must be sent with
    `add_version_condition=False` (we do not know, and do not need, the current version)."""
    ref = Contact(contact_id)
    ref.version = 0  # any number: makes PynamoDB ADD 1 to the version instead of setting it to 1
    return ref


def event_items(contact_id: str, event_type: str, properties: dict[str, Any], event_id: str,
                at: Any = None, *, posted: bool = False) -> tuple[EventId, Event]:
    """The items events.service.record writes for one event, for use in a larger transaction.
    `event_id` is stored in the posted (client) namespace or the system's (vocabulary)."""
    from datetime import timedelta

    event_id = client_event_id(event_id) if posted else system_event_id(event_id)
    moment = at or clock.now()
    ttl_days = settings().event_ttl_days
    expires = moment + timedelta(days=ttl_days) if ttl_days else None
    item = Event(contact_id, f"{clock.iso(moment)}#{event_id}", id=event_id, type=event_type,
                 properties=json.loads(json.dumps(properties, default=_json_default)),
                 received_at=clock.iso(clock.now()), expires_at=expires)
    return EventId(event_id, contact_id=contact_id, expires_at=expires), item


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return str(value)


def counter_key(contact_id: str) -> str:
    return f"{COUNTER_PREFIX}{zlib.crc32(contact_id.encode()) % COUNTER_SHARDS:02d}"


def group_count(group: str) -> int:
    """A list's or segment's member count: the sum of its counter items (one small Query)."""
    total = 0
    for item in Member.query(group, Member.member.startswith(COUNTER_PREFIX), consistent_read=True):
        total += int(item.count or 0)
    return total


# -- suppression ---------------------------------------------------------------------------


def suppression_digest(kind: str, value: str, secret: str | None = None) -> str:
    """HMAC-SHA256 of `kind:value` keyed with the token secret: not reversible without it."""
    key = (settings().token_secret if secret is None else secret).encode()
    return hmac.new(key, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()


def suppressed_each(people: list[dict[str, str | None]]) -> set[int]:
    """The positions in `people` (each its identifiers: kind -> normalised value) of those with
    an erased identifier, read in batches."""
    # Digests written before a rotation of the token secret were keyed with a previous one.
    secrets = settings().token_secrets or ("",)
    digests = [{suppression_digest(kind, value, secret) for kind, value in identifiers.items() if value
                for secret in secrets} for identifiers in people]
    keys = list(dict.fromkeys(digest for each in digests for digest in each))
    erased = {item.digest for item in Suppression.batch_get(keys)} if keys else set()
    return {position for position, each in enumerate(digests) if each & erased}


# -- jobs: the background worker -------------------------------------------------------------


@lru_cache(maxsize=1)
def _s3():
    from botocore.config import Config

    # Path-style addressing keeps presigned URLs valid for any bucket name, and locally.
    return boto3.client("s3", region_name=settings().region, config=Config(s3={"addressing_style": "path"},
                                                                           signature_version="s3v4"))


def imports_bucket() -> str:
    """Where large CSV files are uploaded (PARCOURS_IMPORTS_BUCKET when config provides it)."""
    configured = getattr(settings(), "imports_bucket", None)
    return configured or f"{settings().table_prefix}imports"


def ensure_imports_bucket() -> None:
    """The local stack has no infra/: create the bucket on first use there."""
    if not settings().local:
        return
    bucket = imports_bucket()
    try:
        _s3().head_bucket(Bucket=bucket)
    except Exception:  # missing bucket
        _s3().create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": settings().region})


def upload_url(key: str, *, expires_in: int, content_type: str = "text/csv") -> str:
    ensure_imports_bucket()
    return _s3().generate_presigned_url("put_object", Params={"Bucket": imports_bucket(), "Key": key,
                                                              "ContentType": content_type},
                                        ExpiresIn=expires_in, HttpMethod="PUT")


def uploaded_size(key: str) -> int | None:
    """The size of an uploaded object, None when nothing was uploaded (yet)."""
    try:
        return int(_s3().head_object(Bucket=imports_bucket(), Key=key)["ContentLength"])
    except Exception:  # 404 and friends
        return None


def read_upload(key: str) -> bytes:
    return _s3().get_object(Bucket=imports_bucket(), Key=key)["Body"].read()


def delete_upload(key: str) -> None:
    try:
        _s3().delete_object(Bucket=imports_bucket(), Key=key)
    except Exception:  # best effort: a lifecycle rule expires leftovers
        pass


def estimated_items(model: type[Model]) -> int:
    """DynamoDB's item count of a table (refreshed about every six hours): to size a scan."""
    try:
        return int(model.describe_table().get("ItemCount", 0))
    except Exception:
        return 0
