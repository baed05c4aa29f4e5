"""Activity rank: deciles of recent activity (see rank.py)."""
