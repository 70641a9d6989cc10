"""The routing service: the ACD. Where a call gets its agent: acd.py."""
