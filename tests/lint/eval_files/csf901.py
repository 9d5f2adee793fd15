# ruff: noqa
# config: select=CSF901
"""CSF901 (opt-in): an untimed join outside tasks."""

from celery import shared_task
from celery.result import AsyncResult

from shop.tasks import price_cart


def checkout_view(request, cart_id):
    total = price_cart.delay(cart_id).get()  # CSF901: 13
    status = AsyncResult(request.GET["id"])
    status.wait(propagate=False)  # CSF901: 5
    return total


def timed_view(cart_id, task_id):
    first = price_cart.delay(cart_id).get(timeout=10)
    second = AsyncResult(task_id).get(5)
    third = AsyncResult(task_id).join(timeout=1.5)
    fourth = AsyncResult(task_id).get(**options_with_timeout)
    return first, second, third, fourth


def lookalikes(mapping, thread):
    mapping.get("a")
    thread.join()
    return {}.get("b")


# A helper only tasks reach: its join is the tasks' problem (CSF104 at each call), not
# reported again here
def wait_in_helper(result):
    return result.get()


@shared_task
def uses_the_helper(x):
    return wait_in_helper(price_cart.delay(x))


def checkout_view(request):
    # ``~sig`` is ``apply_async().get()``, and no timeout can be given to it
    total = ~price_cart.s(request.cart_id)  # CSF901: 13
    return {"total": total, "flags": ~request.flags}


def run_inline(x):
    return ~price_cart.s(x)  # a task reaches it: CSF104 there, not here


@shared_task
def uses_the_inverting_helper(x):
    return run_inline(x)
