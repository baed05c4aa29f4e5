"""`parcours`, the marketers' command line: scenario files in, problems with their lines out.

It talks to a Parcours API over HTTP only (stdlib urllib), so it lives outside chalicelib and
stays out of the Lambda package, which Chalice builds from app.py and chalicelib alone.
"""
