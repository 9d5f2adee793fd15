"""Alembic migrations of the registry's database, shipped inside the package.

``registry.db.create_schema`` runs them (``python -m registry init``); the plain
``alembic`` command works too with ``script_location = registry:migrations``.
"""
