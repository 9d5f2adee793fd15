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

# a body ignoring its result matters only where the chord's result is read: joined,
# returned to a caller, or kept and read later
chord([fetch.s("a")])(merge_quietly.s()).get(timeout=10)  # CSF204: 23
result = chord([fetch.s("a")], merge_quietly.s()).apply_async()  # CSF204: 32
print(result.id)


def totals(urls):
    return chord(fetch.s(u) for u in urls)(merge_quietly.s())  # CSF204: 44


def started(urls):
    sent = chord([fetch.s(u) for u in urls], merge_quietly.s()).delay()  # CSF204: 46
    return sent


# fine: no chord needs these results
group(fire_and_forget.s(u) for u in "ab").delay()
chain(fetch.s("a"), fire_and_forget.si("b")).delay()
fire_and_forget.delay("a")

# fine: fire and forget, nobody reads the chord's result
chord([fetch.s("a")])(merge_quietly.s())
chord([fetch.s("a")], merge_quietly.s()).apply_async(countdown=5)


def nightly(urls):
    chord(fetch.s(u) for u in urls)(merge_quietly.s())
