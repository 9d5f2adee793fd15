# ruff: noqa
"""CSF209: a chain step after a chord whose body is a group (Celery builds one from
``group | group``; a nested chain or a group after it is linked to each member)."""

from celery import Celery, chain, group

app = Celery("eval")


@app.task
def add(x, y):
    return x + y


@app.task
def total(values):
    return sum(values)


@app.task
def count(values):
    return len(values)


chain(group(add.s(1, 1), add.s(2, 2)), group(total.s(), count.s()), chain(total.s(), count.s()))  # CSF209: 75
chain(group(add.s(1, 1), add.s(2, 2)), group(total.s(), count.s()), group(total.s(), count.s()))  # CSF209: 69

# fine: Celery links these correctly
chain(group(add.s(1, 1), add.s(2, 2)), group(total.s(), count.s()), total.s())
chain(group(add.s(1, 1), add.s(2, 2)), chain(group(total.s(), count.s()), chain(total.s(), count.s())))
chain(group(add.s(1, 1), add.s(2, 2)), group(total.s(), count.s()))
chain(group(add.s(1, 1), add.s(2, 2)), group(total.s()), chain(total.s(), count.s()))

# groups a comprehension makes, chained: Celery folds whatever the generator yields with
# ``|``, so from the third group on each is linked to every member of the one before it
# (whatever the groups' members, however many the generator yields beyond two)
batches = [[1, 2], [3, 4], [5, 6]]
chain(group(add.s(n) for n in batch) for batch in batches)  # CSF209: 7
chain(*[group(add.s(n) for n in batch) for batch in batches])  # CSF209: 9
chain([group(add.s(1, 1), add.s(2, 2)) for batch in batches])  # CSF209: 8

# fine: a comprehension of tasks, or of chains, is linked step by step
chain(add.s(n) for n in range(3))
chain(chain(add.s(n), total.s()) for n in range(3))
