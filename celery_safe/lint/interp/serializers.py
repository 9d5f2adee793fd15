"""Whether a module's source leaves a project's tasks on Celery's default serializer,
JSON: read from the text (a scan of every file of a project), for static CSF207."""

from __future__ import annotations

import re

__all__ = ["json_only"]


#: a task serializer setting (``task_serializer``, ``CELERY_TASK_SERIALIZER``, any case, as
#: a name, a keyword or a key) or a ``"serializer"`` key (``task_annotations``, options
#: dicts): each must be written ``= "json"`` / ``: "json"``
_SETTING = re.compile(rb"""task_serializer|['"]serializer['"]""", re.I)
_SETTING_JSON = re.compile(
    rb"""(?:task_serializer['"]?|['"]serializer['"])[ \t]*\]?[ \t]*(?::|=(?!=))[ \t]*"""
    rb"""(['"])json\1""",
    re.I,
)
#: ``serializer=`` of a task (decorator, class attribute) or a call (``apply_async``,
#: ``.set``, ``.signature``): ``(?P<value>...)`` is what follows the ``=``
_OPTION = re.compile(
    rb"""(?P<before>[(,][ \t]*|^[ \t]*|\.)serializer[ \t]*(?::[^=\n]*)?=(?!=)[ \t]*"""
    rb"""(?P<value>[^\n]{0,40})""",
    re.M,
)
_JSON_LITERAL = re.compile(rb"""(['"])json\1""")
#: a statement ``serializer = SomeSerializer(...)`` (Django REST framework's views): a
#: call's result assigned is not a serializer's name
_ASSIGNED_CALL = re.compile(rb"""[\w.]+\(""")
#: kombu's JSON taught new types or replaced, a configuration no scan reads, or the
#: app's task class replaced (its ``apply_async`` may change what is sent)
_JSON_UNKNOWN = re.compile(
    rb"""\bregister_type\b|kombu\.serialization|from[ \t]+kombu[ \t]+import[^\n]*serializ"""
    rb"""|\bconfig_from_envvar\b|\bconf\.update\([ \t]*\*\*|\btask_cls\b"""
    rb"""|\.Task[ \t]*=(?!=)"""
)


def json_only(data: bytes) -> bool:
    """One file's source leaves the tasks on JSON (see :func:`_scan_json`); also the
    whole project of a module checked without one (``check_source``)."""
    if _JSON_UNKNOWN.search(data):
        return False
    if len(_SETTING.findall(data)) != len(_SETTING_JSON.findall(data)):
        return False
    for match in _OPTION.finditer(data):
        value = match["value"]
        if value[:1] in (b"'", b'"'):
            if not _JSON_LITERAL.match(value):
                return False
        elif not (match["before"].strip() == b"" and _ASSIGNED_CALL.match(value)):
            return False  # why: a non-literal serializer= may be anything
    return True
