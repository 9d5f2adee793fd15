"""The registry's Celery tasks as they were written before celery-safe (a lint fixture)."""
