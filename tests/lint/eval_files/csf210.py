# ruff: noqa
"""CSF210: a step receives a value its first parameter's annotation cannot take."""

from typing import Any, Optional, Sequence, TypeVar

from celery import Celery, chain, chord, group

from proj.models import Imported

app = Celery("eval")
T = TypeVar("T")


class Animal:
    pass


class Dog(Animal):
    pass


@app.task
def count() -> int:
    return 1


@app.task
def maybe_name() -> Optional[str]:
    return None


@app.task
def a_dog() -> Dog:
    return Dog()


@app.task
def shout(text: str) -> str:
    return text


@app.task
def average(values: list[float]) -> float:
    return sum(values) / len(values)


@app.task
def pet(animal: Animal) -> str:
    return "ok"


@app.task
def pet_all(dogs: "Sequence[Dog]") -> int:
    return len(dogs)


@app.task
def anything(value: Any) -> Any:
    return value


@app.task
def generic(value: T) -> T:
    return value


@app.task
def imported(value: Imported) -> None:
    return None


@app.task
def untyped(value):
    return value


chain(count.s(), shout.s()).delay()  # CSF210: 18
chord([count.s(), count.s()], shout.s())()  # CSF210: 31
chord([maybe_name.s()], average.s())()  # CSF210: 25
chain(group(count.s(), count.s()), shout.s()).delay()  # CSF210: 36
chain(count.s(), pet.s()).delay()  # CSF210: 18
(a_dog.s() | shout.s()).delay()  # CSF210: 14

# fine: fits, fits in part, or nothing to compare
chain(a_dog.s(), pet.s()).delay()  # a subclass
chord([a_dog.s(), a_dog.s()], pet_all.s())()  # list[Dog] into Sequence[Dog]
chord([count.s()], average.s())()  # int into float
chain(maybe_name.s(), shout.s()).delay()  # str | None into str: not definite
chain(count.s(), anything.s(), generic.s(), imported.s(), untyped.s()).delay()
chain(count.s(), shout.si("fixed")).delay()  # immutable: receives nothing
