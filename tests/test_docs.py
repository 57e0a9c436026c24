"""Documentation is part of the feature: every setting is documented."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

from pydantic import BaseModel

from warden import refs
from warden.access import config as access_config
from warden.config import approvals, model

DOC = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"


def _models(*modules: ModuleType) -> list[type[BaseModel]]:
    found = []
    for module in modules:
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, BaseModel)
                and value.__module__ == module.__name__
            ):
                found.append(value)
    return found


def _undocumented(doc: Path, *modules: ModuleType) -> list[str]:
    text = doc.read_text()
    return [
        f"{cls.__name__}.{name}"
        for cls in _models(*modules)
        for name in cls.model_fields
        if f"`{name}`" not in text
    ]


def test_every_config_field_is_documented() -> None:
    missing = _undocumented(DOC, model, refs, approvals)
    assert not missing, f"undocumented settings in docs/configuration.md: {missing}"


def test_every_identity_setting_is_documented() -> None:
    missing = _undocumented(DOC.with_name("identity.md"), access_config)
    assert not missing, f"undocumented settings in docs/identity.md: {missing}"


def test_readme_shows_the_two_commands() -> None:
    readme = (DOC.parents[1] / "README.md").read_text()
    assert "make run" in readme and "make test" in readme
