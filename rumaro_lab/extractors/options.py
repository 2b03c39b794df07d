"""Extractor options from text, as the command line gives them: ``NAME.OPTION=VALUE``.

``rumaro extract ACCOUNT --option text.recognize=true --option pose.backend=movenet`` runs the
default set with those two extractors configured; `rumaro extractors --options` lists every
option with its default and allowed values. Options change the output, so they are part of the
cache key: results computed with other options are kept apart, never mixed.

Values are read as JSON (``true``, ``256``, ``0.7``, ``null``, ``{"closeup_min": 0.8}``), else
taken as text (``movenet``); an option whose default is text stays text (``api=4.0`` is "4.0").

>>> parse_options(["text.recognize=true", "pose.backend=movenet", "text.long_side=256"])
{'text': {'recognize': True, 'long_side': 256}, 'pose': {'backend': 'movenet'}}
>>> [type(e).__name__ if not isinstance(e, str) else e
...  for e in with_options(["image", "text"], parse_options(["text.recognize=true"]))]
['image', 'Text']
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from ..errors import RumaroError
from . import DEFAULT_EXTRACTORS, REGISTRY, extractor_class, make_extractor, registered_classes
from .plan import ExtractorSpec

FORM = "NAME.OPTION=VALUE, e.g. text.recognize=true"


def parse_options(items: Iterable[str]) -> dict[str, dict[str, Any]]:
    """``{extractor: {option: value}}`` from ``NAME.OPTION=VALUE`` strings.

    Raises `RumaroError` naming the item for a malformed one, an unknown extractor or an
    unknown option (the extractor then checks the value when it is made)."""
    options: dict[str, dict[str, Any]] = {}
    for item in items:
        target, sep, raw = item.partition("=")
        name, dot, option = target.strip().partition(".")
        if not (sep and dot and name and option):
            raise RumaroError(f"option {item!r} is not {FORM.split(',')[0]}", hint=FORM)
        if name not in REGISTRY:
            raise RumaroError(f"option {item!r}: unknown extractor {name!r}",
                              hint=f"known: {', '.join(sorted(REGISTRY))}")
        defaults = extractor_class(name).default_config
        if option not in defaults:
            raise RumaroError(
                f"option {item!r}: extractor {name!r} has no option {option!r}",
                hint=(f"its options are {', '.join(sorted(defaults))}" if defaults
                      else "it has no options") + " (`rumaro extractors --options`)")
        options.setdefault(name, {})[option] = _value(raw.strip(), defaults[option])
    return options


def _value(raw: str, default: Any) -> Any:
    if isinstance(default, str):
        return raw
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw  # text; the extractor says when it is not an allowed value


def with_options(
    extractors: Iterable[ExtractorSpec] | None,
    options: Mapping[str, Mapping[str, Any]],
    settings=None,
) -> list[ExtractorSpec]:
    """The run's extractors (None: the default set) with the named ones made with `options`.

    An extractor that has options but is not in the list is added to it: asking for its
    options is asking for it. A configured instance in the list keeps its own options, and
    `options` are applied on top of them."""
    specs = list(DEFAULT_EXTRACTORS if extractors is None else extractors)
    names = [spec if isinstance(spec, str) else spec.name for spec in specs]
    for name in options:
        if name not in names:
            specs.append(name)
            names.append(name)
    return [spec if name not in options
            else make_extractor(name, settings, **options[name]) if isinstance(spec, str)
            else _reconfigured(spec, options[name], settings)
            for spec, name in zip(specs, names, strict=True)]


def _reconfigured(spec, options: Mapping[str, Any], settings):
    if isinstance(spec, type):  # a class: made with the options
        return spec(settings=settings, **options)
    return type(spec)(settings=spec.settings or settings, **{**spec.config, **options})


def options_table(names: Iterable[str] | None = None) -> pd.DataFrame:
    """One row per extractor option: extractor, option, default, allowed values (if a few)."""
    rows = [{"extractor": cls.name, "option": option, "default": json.dumps(default, default=str),
             "choices": ", ".join(json.dumps(c) for c in cls.option_choices.get(option, ()))}
            for cls in registered_classes(names) for option, default in cls.default_config.items()]
    return pd.DataFrame(rows, columns=["extractor", "option", "default", "choices"])
