"""Durable records (SQL) and the live-state connection (Redis)."""
