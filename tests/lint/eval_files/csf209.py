# ruff: noqa
"""CSF209: a chain step after a chord whose body is a group."""

from celery import Celery, chain, chord, group

app = Celery("eval")


@app.task
def add(x, y):
    return x + y


@app.task
def total(values):
    return sum(values)


@app.task
def spread(value):
    return value


chain(chord([add.s(1, 2)], group(spread.s(), spread.s())), total.s())  # CSF209: 60

# fine: one task in between, a group of one (Celery unrolls it), or no step after
chain(chord([add.s(1, 2)], group(spread.s(), spread.s())))
chain(chord([add.s(1, 2)], total.s()), spread.s())
chain(chord([add.s(1, 2)], group(spread.s())), spread.s())
