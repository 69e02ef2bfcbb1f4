"""Checking claims and quotes against the sources."""
