"""One structured logger (Powertools). Log ids and counts, never a contact's personal data."""
from aws_lambda_powertools import Logger

logger = Logger(service="parcours")
