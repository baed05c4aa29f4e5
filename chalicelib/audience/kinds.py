"""Every kind of background job, registered by name once at start (app.py): audience.jobs runs
what it is given and knows no kind itself."""
from __future__ import annotations

from chalicelib.activity.service import ActivityRank
from chalicelib.audience import jobs, react
from chalicelib.campaigns.selection import CampaignSelection
from chalicelib.imports.service import ImportJob
from chalicelib.scoring.service import Decay, Rescore
from chalicelib.segments.build import GroupDelete, SegmentBuild


def register_all() -> None:
    jobs.register("segment_build", SegmentBuild())
    jobs.register("group_delete", GroupDelete())
    jobs.register("activity_rank", ActivityRank())
    jobs.register("import", ImportJob())
    jobs.register("score_decay", Decay(react.score_moved))
    jobs.register("rescore", Rescore(react.score_moved))
    jobs.register("campaign_selection", CampaignSelection())
