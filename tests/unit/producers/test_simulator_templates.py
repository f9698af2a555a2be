"""The simulator's templates file: the packaged one loads; a broken one is refused with the file, the
place in it and what is wrong (every problem at once), before any product is made from it."""

from __future__ import annotations

from pathlib import Path

import pytest

from producers.simulator.specs import SUBCATEGORIES, TEMPLATES, TemplateError, load_templates

PACKAGED = TEMPLATES.read_text(encoding="utf-8")
HEADPHONES = "subcategory[0] (Electronics > Headphones)"
SHOES = "subcategory[7] (Sports & Outdoors > Running Shoes)"


def _broken(tmp_path: Path, *edits: tuple[str, str]) -> str:
    """The message of loading the packaged file with each (old, new) replaced once."""
    text = PACKAGED
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new, 1)
    path = tmp_path / "templates.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(TemplateError) as caught:
        load_templates(path)
    message = str(caught.value)
    assert message.startswith(f"{path}:")
    return message


def test_the_packaged_file_loads_with_shared_attributes_and_defaults() -> None:
    assert load_templates() == SUBCATEGORIES
    by_name = {s.name: s for s in SUBCATEGORIES}
    # [shared_attributes.gender], used by reference, and T-Shirts' own gender attribute
    assert by_name["Jeans"].attribute("gender") == by_name["Rain Jackets"].attribute("gender")
    assert by_name["Jeans"].attribute("gender").values == ("Men's", "Women's")
    assert "Unisex" in by_name["T-Shirts"].attribute("gender").values
    # [defaults.Books]: inherited unless a subcategory sets its own
    books = [s for s in SUBCATEGORIES if s.top == "Books"]
    assert books and all(s.has_author and s.openers == books[0].openers for s in books)
    assert by_name["Cookbooks"].qualities != by_name["Fiction"].qualities
    assert not any(s.has_author or s.openers for s in SUBCATEGORIES if s.top != "Books")


def test_a_toml_syntax_error_names_the_line(tmp_path: Path) -> None:
    message = _broken(tmp_path, ('name = "Headphones"', 'name = "Headphones'))
    assert "not valid TOML" in message and "line 49" in message


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (('brands = ["Sony"', 'brnads = ["Sony"'), f"{HEADPHONES}.brnads: Extra inputs are not permitted"),
        (('{ key = "fit", values = ["Over-Ear", "On-Ear", "In-Ear"] }', '{ key = "fit", values = [] }'),
         f"{HEADPHONES}.attributes[2].values: List should have at least 1 item"),
        (('price = [19.99, 399.99]', 'price = [399.99, 19.99]'),
         f"{HEADPHONES}: price [399.99, 19.99]: the low end must be below the high end"),
        (('price = [19.99, 399.99]', 'price = [0, 399.99]'), f"{HEADPHONES}.price[0]: Input should be greater than 0"),
        (('query = "size {v}"', 'query = "size"'),
         f"{SHOES}.attributes[4]: query 'size' must contain {{v}} (the value)"),
        (('{ shared = "gender" }', '{ shared = "sex" }'), f"{SHOES}.attributes: no [shared_attributes.sex]"),
        (('"{brand} {model} {connectivity} {style} {noun}, {colour}"', '"{brand} {modle} {noun}"'),
         f"{HEADPHONES}.name_templates[0]: unknown placeholder(s) {{modle}}"),
        (('"{brand} {model} {connectivity} {style} {noun}, {colour}"', '"{brand} {title} {noun}"'),
         f"{HEADPHONES}.name_templates: {{title}} needs title_templates"),
        (('related = ["Bluetooth Speakers"]', 'related = ["Bluetooth Speaker"]'),
         f"{HEADPHONES}.related: no subcategory is named 'Bluetooth Speaker'"),
        (('{ key = "fit", values', '{ key = "brand", values'),
         f"{HEADPHONES}.attributes: the key 'brand' is reserved for the {{brand}} placeholder"),
        (('{ key = "fit", values', '{ key = "colour", values'),
         f"{HEADPHONES}.attributes: the key 'colour' is used more than once"),
        (('name = "Bluetooth Speakers"', 'name = "Headphones"'),
         "subcategory[1] (Electronics > Headphones).name: 'Headphones' is already the name of subcategory[0]"),
        (('[defaults.Books]', '[defaults.Bookz]'), "defaults.Bookz: no subcategory has the top category 'Bookz'"),
        (('uses = ["commuting", "long flights", "working from home", "gaming sessions", "studying", "the gym"]',
          'uses = ["commuting"]'), f"{HEADPHONES}.uses: List should have at least 2 items"),
    ],
)
def test_a_mistake_is_reported_with_its_place(tmp_path: Path, edit: tuple[str, str], expected: str) -> None:
    assert expected in _broken(tmp_path, edit)


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    message = _broken(
        tmp_path,
        ('brands = ["Sony"', 'brnads = ["Sony"'),
        ('{ shared = "gender" }', '{ shared = "sex" }'),
    )
    assert f"{HEADPHONES}.brands: Field required" in message
    assert f"{SHOES}.attributes: no [shared_attributes.sex]" in message


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match=r"nowhere\.toml: cannot be read"):
        load_templates(tmp_path / "nowhere.toml")


def test_an_unmatched_brace_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    message = _broken(tmp_path, ('"{brand} {model} {connectivity} {style} {noun}, {colour}"', '"{brand} {noun"'))
    assert f"{HEADPHONES}.name_templates[0]: '{{brand}} {{noun' is not a valid template" in message
