"""Per-subcategory templates of the simulated catalogue: vocabulary, brands, attributes, prices.

The templates are data, in `subcategories.toml` beside this module (what each field means is written
at the top of that file). They are loaded and checked when this module is imported: a mistake in the
file stops the simulator at once with the file, the place within it and what is wrong, rather than
producing odd products later.

>>> len(TOP_CATEGORIES), len(SUBCATEGORIES) >= 30
(10, True)
>>> SPEC_BY_KEY["Home & Kitchen > Coffee Grinders"].synonyms[0]
'burr mill for coffee'
"""

from __future__ import annotations

import string
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from importlib.resources import files
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, ValidationError, model_validator

TEMPLATES = files("producers.simulator").joinpath("subcategories.toml")


@dataclass(frozen=True)
class AttributeSpec:
    """One attribute of a subcategory.

    `query` is how a shopper writes a value in a search box (`{v}` is the lower-cased value), and
    `suffix` says whether it goes after the product noun ("running shoes size 10") or before it
    ("black running shoes"). `lower` says whether the value is lower-cased inside a sentence.
    """

    key: str
    values: tuple[str, ...]
    query: str = "{v}"
    suffix: bool = False
    lower: bool = True


@dataclass(frozen=True)
class SubcategorySpec:
    top: str
    name: str
    nouns: tuple[str, ...]
    synonyms: tuple[str, ...]
    brands: tuple[str, ...]
    attributes: tuple[AttributeSpec, ...]
    name_templates: tuple[str, ...]
    benefits: tuple[str, ...]
    uses: tuple[str, ...]
    price: tuple[float, float]
    models: tuple[str, ...] = ()
    related: tuple[str, ...] = ()
    mass: bool = False
    """A mass noun ("coffee", "dog food"): no article in front of it."""
    openers: tuple[str, ...] = ()
    qualities: tuple[str, ...] = ()
    title_templates: tuple[str, ...] = ()
    title_words: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))
    has_author: bool = False

    @cached_property  # read for every product a shopper sees (frozen: the value never changes)
    def key(self) -> str:
        return f"{self.top} > {self.name}"

    @property
    def path(self) -> list[str]:
        return [self.top, self.name]

    def attribute(self, key: str) -> AttributeSpec:
        for attr in self.attributes:
            if attr.key == key:
                return attr
        raise KeyError(key)


# ---------------------------------------------------------------------------------- the file's schema

# Placeholders the catalogue's text generator fills (catalogue.py), besides the attribute keys.
NAME_FIELDS = frozenset({"brand", "model", "noun", "title"})
"""In product names; `author` too when the subcategory has authors."""
OPENER_FIELDS = NAME_FIELDS | {"short", "noun_text", "quality", "a_quality", "A_quality", "this", "use", "use2"}
"""In a description's first sentence."""
TITLE_FIELDS = frozenset({"name"})
"""In titles, besides the keys of `title_words`."""
RESERVED_KEYS = NAME_FIELDS | {"author"}
"""Attribute keys that would clash with a placeholder."""

Text = Annotated[str, Field(min_length=1)]
Texts = Annotated[list[Text], Field(min_length=1)]
Key = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class _SharedAttribute(_Strict):
    values: Texts
    query: Text = "{v}"
    suffix: bool = False
    lower: bool = True

    @model_validator(mode="after")
    def _query_has_value(self) -> _SharedAttribute:
        if _fields(self.query) != {"v"}:
            raise ValueError(f"query {self.query!r} must contain {{v}} (the value) and no other placeholder")
        return self


class _Attribute(_SharedAttribute):
    key: Key


class _SharedRef(_Strict):
    shared: Key


def _attribute_kind(item: Any) -> str:
    return "shared" if isinstance(item, dict) and "shared" in item else "attribute"


AttributeItem = Annotated[
    Annotated[_Attribute, Tag("attribute")] | Annotated[_SharedRef, Tag("shared")], Discriminator(_attribute_kind)
]


class _Subcategory(_Strict):
    top: Text
    name: Text
    nouns: Texts
    synonyms: list[Text]
    brands: Texts
    attributes: list[AttributeItem]
    name_templates: Texts
    benefits: Annotated[list[Text], Field(min_length=2)]
    """Up to two are sampled per description."""
    uses: Annotated[list[Text], Field(min_length=2)]
    """Two are sampled per description."""
    price: Annotated[list[Annotated[float, Field(gt=0, allow_inf_nan=False)]], Field(min_length=2, max_length=2)]
    models: list[Text] = []
    related: list[Text] = []
    mass: bool = False
    openers: list[Text] = []
    qualities: list[Text] = []
    title_templates: list[Text] = []
    title_words: dict[Key, Texts] = {}
    has_author: bool = False

    @model_validator(mode="after")
    def _consistent(self) -> _Subcategory:
        low, high = self.price
        if low >= high:
            raise ValueError(f"price [{low}, {high}]: the low end must be below the high end")
        return self


class _File(_Strict):
    shared_attributes: dict[Key, _SharedAttribute] = {}
    defaults: dict[Text, dict[str, Any]] = {}
    subcategory: Annotated[list[dict[str, Any]], Field(min_length=1)]


# ---------------------------------------------------------------------------------- loading


class TemplateError(ValueError):
    """The templates file is not usable; the message names the file, the place in it and the problem."""


def _fields(template: str) -> set[str]:
    """The placeholders of a str.format template: {'v'} for 'size {v}'."""
    return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}


def _where(loc: Iterable[int | str]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else f".{part}" if out else str(part)
    return out


def _pydantic_problems(exc: ValidationError, prefix: str) -> list[str]:
    problems = []
    for err in exc.errors(include_url=False):
        # Leave out the union's tags and validator names: the place in the file is what helps.
        loc: list[int | str] = []
        for part in err["loc"]:
            tag = bool(loc) and isinstance(loc[-1], int) and part in ("attribute", "shared")
            if not (tag or (isinstance(part, str) and "[" in part)):
                loc.append(part)
        where = _where([prefix, *loc]) if prefix else _where(loc)
        problems.append(f"{where}: {str(err['msg']).removeprefix('Value error, ')}")
    return problems


def _attribute(item: _Attribute | _SharedRef, shared: Mapping[str, _SharedAttribute]) -> AttributeSpec:
    if isinstance(item, _SharedRef):
        base: _SharedAttribute = shared[item.shared]
        key = item.shared
    else:
        base, key = item, item.key
    return AttributeSpec(key, tuple(base.values), base.query, base.suffix, base.lower)


def _check(sub: _Subcategory, attributes: tuple[AttributeSpec, ...], names: set[str], where: str) -> list[str]:
    """What the text generator would trip over later: unknown placeholders, clashing keys, bad links."""
    problems = []
    keys = [a.key for a in attributes]
    for key in sorted({k for k in keys if keys.count(k) > 1}):
        problems.append(f"{where}.attributes: the key {key!r} is used more than once")
    for key in sorted(set(keys) & RESERVED_KEYS):
        problems.append(f"{where}.attributes: the key {key!r} is reserved for the {{{key}}} placeholder")
    author = {"author"} if sub.has_author else set()
    known_name = NAME_FIELDS | set(keys) | author
    checks = [("name_templates", sub.name_templates, known_name),
              ("openers", sub.openers, OPENER_FIELDS | set(keys) | author),
              ("title_templates", sub.title_templates, TITLE_FIELDS | set(sub.title_words))]
    for what, templates, known in checks:
        for i, template in enumerate(templates):
            try:
                unknown = _fields(template) - known
            except ValueError as exc:  # an unmatched brace
                problems.append(f"{where}.{what}[{i}]: {template!r} is not a valid template: {exc}")
                continue
            if unknown:
                problems.append(f"{where}.{what}[{i}]: unknown placeholder(s) "
                                f"{', '.join('{' + u + '}' for u in sorted(unknown))} in {template!r}; "
                                f"known here: {', '.join(sorted(known))}")
    if not sub.title_templates and any("{title}" in t for t in sub.name_templates):
        problems.append(f"{where}.name_templates: {{title}} needs title_templates")
    for name in sub.related:
        if name not in names:
            problems.append(f"{where}.related: no subcategory is named {name!r}")
        elif name == sub.name:
            problems.append(f"{where}.related: a subcategory is not related to itself")
    return problems


def load_templates(source: Path | None = None) -> tuple[SubcategorySpec, ...]:
    """Read and check a templates file (default: the one beside this module).

    Raises `TemplateError` listing every problem found, each as `file: place: what is wrong`.
    """
    label = str(source) if source is not None else "producers/simulator/subcategories.toml"
    try:
        raw = (source.read_text(encoding="utf-8") if source is not None else TEMPLATES.read_text(encoding="utf-8"))
        data = tomllib.loads(raw)
    except (OSError, UnicodeDecodeError) as exc:
        raise TemplateError(f"{label}: cannot be read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise TemplateError(f"{label}: not valid TOML: {exc}") from None
    try:
        parsed = _File.model_validate(data)
    except ValidationError as exc:
        raise TemplateError(f"{label}:\n  " + "\n  ".join(_pydantic_problems(exc, ""))) from None

    problems: list[str] = []
    tops = [str(sub.get("top", "")) for sub in parsed.subcategory]
    for top in parsed.defaults:
        if top not in tops:
            problems.append(f"defaults.{top}: no subcategory has the top category {top!r}")
    subs: list[tuple[str, _Subcategory]] = []
    for i, item in enumerate(parsed.subcategory):
        where = f"subcategory[{i}]"
        if isinstance(item.get("top"), str) and isinstance(item.get("name"), str):
            where += f" ({item['top']} > {item['name']})"
        merged = {**parsed.defaults.get(str(item.get("top", "")), {}), **item}
        try:
            subs.append((where, _Subcategory.model_validate(merged)))
        except ValidationError as exc:
            problems.extend(_pydantic_problems(exc, where))
    names = {sub.name for _, sub in subs}
    seen: dict[str, str] = {}
    specs = []
    for where, sub in subs:
        if sub.name in seen:
            problems.append(f"{where}.name: {sub.name!r} is already the name of {seen[sub.name]}")
        seen.setdefault(sub.name, where)
        unknown = [a.shared for a in sub.attributes if isinstance(a, _SharedRef)
                   and a.shared not in parsed.shared_attributes]
        problems.extend(f"{where}.attributes: no [shared_attributes.{name}] in the file" for name in unknown)
        if unknown:
            continue
        attributes = tuple(_attribute(a, parsed.shared_attributes) for a in sub.attributes)
        problems.extend(_check(sub, attributes, names, where))
        specs.append(SubcategorySpec(
            top=sub.top, name=sub.name, nouns=tuple(sub.nouns), synonyms=tuple(sub.synonyms),
            brands=tuple(sub.brands), attributes=attributes, name_templates=tuple(sub.name_templates),
            benefits=tuple(sub.benefits), uses=tuple(sub.uses), price=(sub.price[0], sub.price[1]),
            models=tuple(sub.models), related=tuple(sub.related), mass=sub.mass, openers=tuple(sub.openers),
            qualities=tuple(sub.qualities), title_templates=tuple(sub.title_templates),
            title_words=MappingProxyType({k: tuple(v) for k, v in sub.title_words.items()}),
            has_author=sub.has_author,
        ))
    if problems:
        raise TemplateError(f"{label}:\n  " + "\n  ".join(problems))
    return tuple(specs)


SUBCATEGORIES: tuple[SubcategorySpec, ...] = load_templates()
SPEC_BY_KEY: Mapping[str, SubcategorySpec] = MappingProxyType({s.key: s for s in SUBCATEGORIES})
SPEC_BY_NAME: Mapping[str, SubcategorySpec] = MappingProxyType({s.name: s for s in SUBCATEGORIES})
TOP_CATEGORIES: tuple[str, ...] = tuple(dict.fromkeys(s.top for s in SUBCATEGORIES))
