"""Documentation is part of the feature: every setting is documented."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from warden.config import approvals, model, refs

DOC = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"


def _models() -> list[type[BaseModel]]:
    found = []
    for value in vars(model).values():
        if (
            isinstance(value, type)
            and issubclass(value, BaseModel)
            and value.__module__ == model.__name__
        ):
            found.append(value)
    return found


def test_every_config_field_is_documented() -> None:
    text = DOC.read_text()
    missing = [
        f"{cls.__name__}.{name}"
        for cls in _models()
        for name in cls.model_fields
        if f"`{name}`" not in text
    ]
    assert not missing, f"undocumented settings in docs/configuration.md: {missing}"


def test_readme_shows_the_two_commands() -> None:
    readme = (DOC.parents[1] / "README.md").read_text()
    assert "make run" in readme and "make test" in readme
