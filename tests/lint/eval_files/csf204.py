# ruff: noqa
"""CSF204: a chord header or body task with ignore_result=True."""

from celery import Celery, chain, chord, group

app = Celery("eval")


@app.task(ignore_result=True)
def fire_and_forget(url):
    return url


@app.task
def fetch(url):
    return url


@app.task(ignore_result=True)
def merge_quietly(results):
    return results


@app.task
def merge(results):
    return results


chord([fire_and_forget.s("a"), fetch.s("b")], merge.s())()  # CSF204: 8
chord([fetch.s("a")])(merge_quietly.s())  # CSF204: 23
chain(group(fire_and_forget.s(u) for u in "ab"), merge.s()).delay()  # CSF204: 13

# fine: no chord needs these results
group(fire_and_forget.s(u) for u in "ab").delay()
chain(fetch.s("a"), fire_and_forget.si("b")).delay()
fire_and_forget.delay("a")
