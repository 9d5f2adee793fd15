# ruff: noqa
"""CSF203: a chord whose app's backend (decided in this module's code) cannot run it."""

from celery import Celery, chain, chord, group

app = Celery("eval", broker="redis://localhost", backend="rpc://")


@app.task
def fetch(url):
    return len(url)


@app.task
def merge(sizes):
    return sum(sizes)


chord([fetch.s("a"), fetch.s("b")], merge.s())  # CSF203: 1
chord(fetch.s(u) for u in "ab")(merge.s())  # CSF203: 1
chain(fetch.si("a"), group(fetch.si("b"), fetch.si("c")), merge.s())  # CSF203: 1
# nested: a chord inside a group, a chain inside a chord header
group(chord([fetch.s("a")], merge.s()), fetch.s("b"))  # CSF203: 7
chord([chain(fetch.s("a"), fetch.si("b"))], merge.s())  # CSF203: 1

# fine: no chord
group(fetch.s("a"), fetch.s("b"))
chain(fetch.s("a"), fetch.si("b"))
chain(group(fetch.s("a"), fetch.s("b")))
