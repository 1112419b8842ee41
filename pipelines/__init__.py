"""Prefect flows: thin orchestration of journey_analytics library steps, one flow per file."""
