# ruff: noqa
"""CSF204: a chord header or body task with ignore_result=True."""

from celery import Celery, chain, chord, group

# a database backend reads the header's stored results (celery.chord_unlock): a header
# part that ignores its result never lets the body run
app = Celery("eval", backend="db+sqlite:///results.sqlite")


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
chain(group(fire_and_forget.s(u) for u in "ab"), merge.s()).delay()  # CSF204: 13

# a body ignoring its result matters only where something can block on the chord's
# result or read it: joined, polled, returned to a caller who joins it, given to a helper
# that joins it, or its id restored and joined in the same module
from celery.result import AsyncResult

chord([fetch.s("a")])(merge_quietly.s()).get(timeout=10)  # CSF204: 23
polled = chord([fetch.s("a")], merge_quietly.s()).apply_async()  # CSF204: 32
print(polled.ready())


def totals(urls):
    return chord(fetch.s(u) for u in urls)(merge_quietly.s())  # CSF204: 44


def report(urls):
    return totals(urls).get(timeout=60)


def wait_for(result):
    return result.get(timeout=60)


def started(urls):
    sent = chord([fetch.s(u) for u in urls], merge_quietly.s()).delay()  # CSF204: 46
    return wait_for(sent)


def submit(urls, store):
    sent = chord([fetch.s(u) for u in urls], merge_quietly.s()).delay()  # CSF204: 46
    store["job"] = sent.id


def status(store):
    return AsyncResult(store["job"]).get(timeout=1)


# fine: no chord needs these results
group(fire_and_forget.s(u) for u in "ab").delay()
chain(fetch.s("a"), fire_and_forget.si("b")).delay()
fire_and_forget.delay("a")

# fine: fire and forget, nobody reads the chord's result
chord([fetch.s("a")])(merge_quietly.s())
chord([fetch.s("a")], merge_quietly.s()).apply_async(countdown=5)


def nightly(urls):
    chord(fetch.s(u) for u in urls)(merge_quietly.s())


# fine: printed and returned, but no caller here joins it (an id handed out counts only
# where the module restores and joins results: the rule's VALID examples)
def launch_and_log(urls):
    job = chord([fetch.s(u) for u in urls], merge_quietly.s()).delay()
    print("started", job)
    return job  # returned, but no caller here joins it
