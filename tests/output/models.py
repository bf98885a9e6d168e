"""Output types the structured-output tests share."""

from __future__ import annotations

import dataclasses
import enum

from pydantic import BaseModel, Field
from typing_extensions import TypedDict


class Line(BaseModel):
    sku: str
    quantity: int = Field(ge=1)
    unit_price: float


class Invoice(BaseModel):
    number: str
    customer: str
    total: float
    lines: list[Line]


class Refund(BaseModel):
    kind: str = "refund"
    order: str
    amount: float


class Ten(BaseModel):
    """A 10-field model, the benchmark's shape."""

    a: str
    b: int
    c: float
    d: bool
    e: str
    f: int
    g: list[str]
    h: str
    i: float
    j: int


@dataclasses.dataclass
class Point:
    x: int
    y: int


class Movie(TypedDict):
    title: str
    year: int


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"
