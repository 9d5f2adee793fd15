"""Shared test plumbing. Redis comes from the plugin's ``celery_safe_redis_url`` fixture."""
