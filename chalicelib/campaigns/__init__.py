"""Campaigns: one email or SMS to lists and segments (minus exclusion lists), now, at a date or
at a time in each contact's own time zone, optionally A/B tested. The rules (definition, ab,
moments) are plain Python; the services (service, selection, sender, report) orchestrate."""
