"""The one criteria engine (DESIGN.md section 5): validate, evaluate, and list dependencies.

To evaluate one criteria tree against many subjects, compile it once:
`predicate = compile_criteria(tree)`, then `predicate(subject, anchor(now))` per subject
(`matches()` compiles on every call).

Plain Python on plain data: no HTTP, boto3 or DynamoDB here. Segments, scenario conditions,
trigger filters, goals and wait_for all go through these functions, so a criterion means the
same thing everywhere.

Comparison rules callers can rely on:
- Numbers compare across int, float and Decimal (DynamoDB returns Decimal); bool is never a
  number. A string is read as a number only when the other side is a number and the string is
  a plain decimal literal: score 42 eq "42" is True, but "10" gt "9" is not a numeric test.
- eq/ne with a bool on either side are strict: True eq 1 is False.
- Strings compare case-sensitively, except the `email` field (case-insensitive).
- contains/not_contains: substring of a string field, or member of a list field;
  starts_with/ends_with: strings only; in/not_in: the field value (or, for a list field, any of
  its items) is in the given list.
- gt/gte/lt/lte: numbers, or date/date-times (datetime values or strings starting with an ISO
  YYYY-MM-DD date); anything else is False (no lexicographic string order).
- before/after: the field as a date or date-time vs an ISO date(-time) or a duration relative
  to now ("-P30D" 30 days ago, "P1D" tomorrow, calendar months). A date alone is midnight UTC;
  naive date-times are UTC.
- A missing (or null) field: every positive operator is False and its negation True
  (ne, not_in, not_contains, not_starts_with, not_ends_with, not_exists).
- An event condition counts the subject's events of the type since now - `within` (all time
  without it) whose properties match `where`, against `count` (default {"gte": 1}).
"""
from chalicelib.criteria.deps import Dependencies, dependencies
from chalicelib.criteria.evaluate import Predicate, anchor, compile_criteria, matches, matches_properties
from chalicelib.criteria.fields import OPERATORS
from chalicelib.criteria.subjects import ContactSubject, PropertiesSubject, Subject
from chalicelib.criteria.validate import validate
from chalicelib.vocabulary import BUILTIN_FIELDS

__all__ = [
    "BUILTIN_FIELDS", "OPERATORS", "ContactSubject", "Dependencies", "Predicate", "PropertiesSubject",
    "Subject", "anchor", "compile_criteria", "dependencies", "matches", "matches_properties", "validate",
]
