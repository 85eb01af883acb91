"""Settings models are built from annotations that are already objects, never from their text."""

import importlib
import inspect
import pkgutil

from pydantic import BaseModel

import stockade.settings


def _model_modules() -> list[str]:
    names = []
    for info in pkgutil.iter_modules(stockade.settings.__path__, "stockade.settings."):
        module = importlib.import_module(info.name)
        defines_a_model = any(
            inspect.isclass(value) and issubclass(value, BaseModel) and value.__module__ == module.__name__
            for value in vars(module).values()
        )
        if defines_a_model:
            names.append(info.name)
    return names


def test_the_walk_finds_the_settings_model_modules() -> None:
    modules = _model_modules()
    assert "stockade.settings.stack" in modules
    assert "stockade.settings.provider_bridged" in modules
    assert "stockade.settings.problems" not in modules


def test_no_settings_model_module_postpones_its_annotations() -> None:
    # `from __future__ import annotations` binds the feature as the module attribute `annotations`.
    postponed = [name for name in _model_modules() if hasattr(importlib.import_module(name), "annotations")]
    assert postponed == [], (
        f"{postponed}: pydantic re-evaluates postponed annotations from text for every model "
        "(stockade.settings.base explains the cost); drop `from __future__ import annotations`"
    )
