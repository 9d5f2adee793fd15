# ruff: noqa
"""CSF202: a chord body that cannot accept the list of header results."""

from celery import Celery, chord, group

app = Celery("eval")


@app.task
def fetch(url):
    return url


@app.task
def merge(results):
    return results


@app.task
def notify():
    return True


@app.task
def pair(results, extra):
    return results, extra


urls = ["a", "b"]
chord([fetch.s(u) for u in urls], notify.s())()  # CSF202: 35
chord(fetch.s(u) for u in urls)(notify.s())  # CSF202: 33
(group(fetch.s(u) for u in urls) | notify.s()).delay()  # CSF202: 36
chord(header=[fetch.s("a")], body=pair.s(1, 2))()  # CSF202: 35

# fine
chord([fetch.s(u) for u in urls], merge.s())()
chord(fetch.s(u) for u in urls)(merge.s())
chord([fetch.s("a")], pair.s(1))()
chord([fetch.s("a")], notify.si())()
group(fetch.s(u) for u in urls).delay()
