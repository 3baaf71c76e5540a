"""Subcommands of the dtmm CLI, one per module."""
