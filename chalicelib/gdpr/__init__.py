"""GDPR: a contact's export and its erasure, above every store that holds personal data."""
