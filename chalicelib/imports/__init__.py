"""CSV imports of contacts, unsubscribes and bounces (parsing in csv_parse.py)."""
