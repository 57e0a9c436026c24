"""Upstream transports and credential brokers."""
