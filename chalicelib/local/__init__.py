"""The embedded AWS for laptops, tests and CI: moto in-process, with the app's own handlers behind it."""
from chalicelib.local.stack import LocalStack

__all__ = ["LocalStack"]
