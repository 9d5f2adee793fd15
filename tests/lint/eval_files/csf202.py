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


# A header built by .append in a loop, held in a list, or returned by a helper
def header_of(items):
    return [fetch.s(item) for item in items]


def build_in_a_loop(items):
    header = []
    for item in items:
        header.append(fetch.s(item))
    chord(header)(notify.s())  # CSF202: 19
    listed = [fetch.s(1), fetch.s(2)]
    chord(listed, notify.s()).delay()  # CSF202: 19
    chord(header_of(items))(notify.s())  # CSF202: 29
    chord(header_of(items))(merge.s())  # fine: the body takes the list
