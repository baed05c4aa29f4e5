"""Audience: what lists, segments, scoring and activity share (membership, jobs, reactions to events)."""
