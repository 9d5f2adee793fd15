"""The linter's thin front-ends over the engine: ``celery-safe check`` (:mod:`.cli`),
``celery-safe fix`` (:mod:`.fix_cli`), the flake8 plugin (:mod:`.flake8_plugin`) and
the report formats (:mod:`.formats`: text, JSON, SARIF).

Nothing below them (the interpreter, the rules, the engine, the codemods) imports them.
Importing this package loads none of them: flake8 imports the plugin's module alone.
"""
