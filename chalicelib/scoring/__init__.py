"""Lead scoring: rules, decay and stages (see rules.py)."""
