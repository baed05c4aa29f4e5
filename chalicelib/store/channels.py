"""Channel tables, registered in CHANNEL_MODELS and created with the rest.

- send-ledger: one item per contact, the moments of its recent marketing sends (the last
  seven days), written with a version condition. The frequency cap is checked and the send
  reserved in that one conditional write, so two scenarios sending to one contact at the
  same moment cannot both pass a cap of one. Expires a week after the last send.
- send-pace: one item per channel and second of wall-clock time, counting the sends that
  took that second's slots (channels.pace). Expires a few minutes later.
"""
from __future__ import annotations

from pynamodb.attributes import ListAttribute, NumberAttribute, TTLAttribute, UnicodeAttribute, VersionAttribute
from pynamodb.models import Model

from chalicelib.store.models import _meta


class SendLedger(Model):
    Meta = _meta("send-ledger")

    contact_id = UnicodeAttribute(hash_key=True)
    sends: ListAttribute[str] = ListAttribute(default=list)  # "ISO|message id" entries, oldest first
    version = VersionAttribute()
    expires_at = TTLAttribute(null=True)


class SendPace(Model):
    Meta = _meta("send-pace")

    slot = UnicodeAttribute(hash_key=True)  # "email#1764500000": the channel and a Unix second
    taken = NumberAttribute(default=0)
    expires_at = TTLAttribute(null=True)


CHANNEL_MODELS: list[type[Model]] = [SendLedger, SendPace]
