# ruff: noqa
"""CSF212: a chord header part whose task replaces itself with a group."""

from celery import Celery, chain, chord, group
from celery import group as fan

import celery

app = Celery("eval")


@app.task
def inc(x):
    return x + 1


@app.task
def gather(values):
    return values


@app.task(bind=True)
def regroup(self, n):
    return self.replace(group(inc.s(i) for i in range(n)))


@app.task(bind=True)
def regroup_named(self, n):
    members = celery.group([inc.s(i) for i in range(n)])
    return self.replace(members)


@app.task(bind=True)
def regroup_locally(self, n):
    from celery import group as g

    return self.replace(g(inc.s(i) for i in range(n)))


@app.task(bind=True)
def rechord(self, n):
    return self.replace(chord([inc.s(i) for i in range(n)], gather.s()))


@app.task(bind=True)
def rechain(self, n):
    return self.replace(chain(inc.s(n), inc.s()))


@app.task(bind=True)
def regroup_elsewhere(self, n):
    return self.replace(fan(inc.s(i) for i in range(n)))


@app.task
def plain(n):
    group(inc.s(i) for i in range(n)).delay()
    return n


chord([regroup.s(3), inc.s(1)], gather.s())  # CSF212: 8
chord([inc.s(1), regroup_named.s(3)], gather.s())  # CSF212: 18
chord([regroup_locally.s(3)], gather.s())  # CSF212: 8
chord(regroup.s(n) for n in range(3))(gather.s())  # CSF212: 7
chord([regroup_elsewhere.s(2), inc.s(0)], gather.s())  # CSF212: 8
chain(inc.s(1), group(regroup.s(), inc.s()), gather.s())  # CSF212: 23
# nested: a chord inside a chain, a chain inside a group
chain(inc.s(1), chord([regroup.s(), inc.s()], gather.s()), inc.si(0))  # CSF212: 24
group(chain(inc.s(1), chord([regroup.s(), inc.s()], gather.s())), inc.s(2))  # CSF212: 30

# fine: replaced by a chord or a chain, not in a header, or not replacing itself
chord([rechord.s(3), inc.s(1)], gather.s())
chord([rechain.s(3), inc.s(1)], gather.s())
chord([plain.s(3), inc.s(1)], gather.s())
chain(inc.s(1), regroup.s(), gather.s())
group(regroup.s(1), regroup.s(2))
