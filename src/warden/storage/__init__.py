"""Helpers every part of the store shares."""
