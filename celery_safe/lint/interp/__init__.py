"""The interpreter: what Python and Celery do with the checked code, knowing no rule.

It indexes a module (tasks, helpers, classes, imports), evaluates expressions to typed
values (:mod:`.values`), walks each function in order (:mod:`.flow`) recording facts
(:mod:`.facts`), and raises typed events (:mod:`.events`) that rules subscribe to. It
imports nothing from the rules, the engine, the front-ends or the codemods (a test in
``tests/test_architecture.py`` says so).
"""
