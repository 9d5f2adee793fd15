"""``python -m celery_safe check|fix|explain|graph|check-app|why``: the ``celery-safe`` command."""

from .cli import main

raise SystemExit(main())
