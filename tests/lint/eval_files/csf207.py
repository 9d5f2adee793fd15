# ruff: noqa
"""CSF207: an argument json cannot carry, sent to a task of the project."""

import datetime
import threading
from datetime import timedelta

from celery import Celery, shared_task
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser, Group, User
from django.db import models
from django.shortcuts import get_object_or_404

app = Celery("eval")
Member = get_user_model()


class Shop(models.Model):
    name = models.CharField(max_length=20)


class Branch(Shop):  # a model through a model of the project
    pass


class Exported(models.Model):
    def __json__(self):  # kombu's encoder calls it: carried
        return {"pk": self.pk}


class Plain:  # not a model
    pass


@app.task
def notify(obj, extra=None):
    return obj


@shared_task
def collect(items):
    return items


def views(request, pk, shop_id):
    shop = Shop.objects.get(pk=pk)
    notify.delay(shop)  # CSF207: 18
    notify.delay(Shop.objects.create(name="x"))  # CSF207: 18
    notify.delay(Shop.objects.filter(name="x").first())  # CSF207: 18
    notify.delay(Shop.objects.latest("pk"))  # CSF207: 18
    notify.delay(1, extra=Shop(name="y"))  # CSF207: 27
    branch, created = Branch.objects.get_or_create(name="x")
    notify.delay(branch)  # CSF207: 18
    notify.delay(Branch.objects.get_or_create(name="x")[0])  # CSF207: 18
    notify.apply_async((get_object_or_404(Shop, pk=pk),))  # CSF207: 25
    notify.apply_async(args=[1], kwargs={"extra": shop})  # CSF207: 51
    notify.s(shop).delay()  # CSF207: 14
    notify.si([shop]).delay()  # CSF207: 15
    notify.signature((shop,), {}).delay()  # CSF207: 23
    notify.delay(Member.objects.get(pk=pk))  # CSF207: 18
    notify.delay(get_user_model().objects.get(pk=pk))  # CSF207: 18
    notify.delay(User.objects.get(pk=pk))  # CSF207: 18
    notify.delay(Group(name="staff"))  # CSF207: 18
    notify.delay(AnonymousUser())  # CSF207: 18
    notify.delay(request.user)  # CSF207: 18
    collect.delay({1, 2})  # CSF207: 19
    collect.delay({str(i) for i in range(3)})  # CSF207: 19
    collect.delay(open("/dev/null"))  # CSF207: 19
    collect.delay(i for i in range(3))  # CSF207: 18
    collect.delay(lambda: 1)  # CSF207: 19
    collect.delay(views)  # CSF207: 19
    collect.delay(timedelta(days=1))  # CSF207: 19
    collect.delay(datetime.timedelta(hours=1))  # CSF207: 19
    collect.delay(threading.Lock())  # CSF207: 19
    labels = {"a", "b"}
    collect.delay(labels)  # CSF207: 19
    collect.delay({"labels": labels})  # CSF207: 19
    return shop_id


class Order(models.Model):
    def ship(self):
        notify.delay(self)  # CSF207: 22
        notify.delay(self.pk)


# fine, or not known
def fine(request, pk, order, obj):
    shop = Shop.objects.get(pk=pk)
    notify.delay(shop.pk)
    notify.delay(shop.name, extra=request.user.pk)
    notify.delay(Exported.objects.get(pk=pk))  # __json__: carried
    notify.delay(Plain())  # not a model (json refuses it, but a look-alike may not)
    notify.delay(order)  # a parameter: unknown
    notify.delay(obj.owner)  # an attribute: unknown
    notify.delay(datetime.datetime.now(), datetime.date.today())  # carried by kombu
    notify.delay((1, 2))  # a tuple: received as a list
    collect.delay(sorted({1, 2}))
    collect.delay([i for i in range(3)])
    tags = {"a"}
    tags = sorted(tags)
    collect.delay(tags)  # rebound: a list by now
    notify.apply_async((shop,), serializer="json")  # CSF207: 25
    notify.delay(*[shop])  # a starred argument is not read
    notify.delay(**{"obj": shop})
    shop.notify.delay(shop)  # not a task
    print(shop, {1}, lambda: 1)  # not a send


def other_request(request):
    request = request.wrapped
    notify.delay(request.user)  # rebound: not Django's request any more


def set(items):  # shadows the builtin
    return list(items)


def shadowed():
    collect.delay(set([1]))  # the module's set(): a list


def each(shop_ids):
    for shop in Shop.objects.filter(pk__in=shop_ids).order_by("pk"):
        notify.delay(shop)  # CSF207: 22
    for row in Shop.objects.values("pk"):
        notify.delay(row)  # a dict
    for pk in Shop.objects.values_list("pk", flat=True):
        notify.delay(pk)


from django.db.models.signals import post_save, pre_delete
from django.dispatch import receiver


@receiver(post_save, sender=Shop)
def shop_saved(sender, instance, created, **kwargs):
    notify.delay(instance)  # CSF207: 18
    notify.delay(instance.pk)


@receiver([post_save, pre_delete], sender=Shop)
def shop_changed(sender, instance, **kwargs):
    notify.delay(instance)  # CSF207: 18


@receiver(post_save)
def rebinds(sender, instance, **kwargs):
    instance = instance.pk
    notify.delay(instance)


@receiver(some_other_signal)
def other_signal(sender, instance, **kwargs):
    notify.delay(instance)  # not a model signal: unknown


def helper():
    pass


helper = staticmethod(helper)


def hands_out():
    collect.delay(helper)  # rebound at the module's top level: unknown


class ModelTask(app.Task):
    def apply_async(self, args=None, kwargs=None, **options):
        args = [getattr(a, "pk", a) for a in args or ()]
        return super().apply_async(args, kwargs, **options)


@app.task(base=ModelTask)
def converted(obj):
    return obj


def sends_through_its_own_class(pk):
    converted.delay(Shop.objects.get(pk=pk))  # its class may send the pk: unknown


frozenset = tuple  # the module rebinds a builtin's name


def rebound_builtin():
    collect.delay(frozenset([1]))  # a tuple here


def kept_signatures(queue, pk):
    shop = Shop.objects.get(pk=pk)
    queue.append(notify.s(shop, extra={"a"}))  # a signature kept: data, maybe never sent
    sig = notify.s(saved={"title"})
    sig.kwargs["saved"] = sorted(sig.kwargs["saved"])  # replaced before it is sent
    sig.delay()
    chain_of = notify.s(shop) | collect.s()  # not sent here
    (notify.s(1) | collect.si({1, 2})).delay()  # CSF207: 31
    return chain_of
