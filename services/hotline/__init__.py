"""Hotline: an open-source contact-center control plane around FreeSWITCH."""

__version__ = "0.1.0"
