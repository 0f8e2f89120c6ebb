"""troposphere's ``to_dict()`` of a template or a resource, the same data in one walk.

troposphere's ``encode_to_dict`` encodes an object's ``to_dict()`` result again after the
object encoded its own contents, at every level of nesting: a resource's properties are
walked once per enclosing object, with ``hasattr`` probes for ``to_dict`` and ``JSONrepr``
on every value (https://github.com/cloudtools/troposphere/blob/main/troposphere/__init__.py,
``encode_to_dict``, ``BaseAWSObject.to_dict``, ``Template.to_dict``). Encoding plain data
again changes nothing, so one walk gives the same result: each object is validated as its
``to_dict()`` validates it (required properties, ``validate()``), in the same order, and
encoded once.

Types are dispatched on their class: troposphere's objects, helper functions and tags
whose ``to_dict`` is troposphere's own, and awacs' objects (``JSONrepr``, no ``to_dict``
unless an instance holds one) are encoded here; anything else (a class with its own
``to_dict``, subclasses of dict or list) goes through ``encode_to_dict``'s own rules,
one value at a time.

The walk mirrors troposphere's functions as MIRRORED records them (troposphere 4.11.1,
where the tests compare it with ``to_dict()`` over every stack): where the installed
troposphere's source of any of them differs, troposphere's own encoding is used.
"""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Callable
from functools import cache
from typing import Any

import awacs
import troposphere
from troposphere import AWSHelperFn, BaseAWSObject, Tags, Template

# sha256 (first 16 hex digits) of the source of each troposphere function the walk mirrors
MIRRORED = {
    "encode_to_dict": "8238dbce155a2780",
    "BaseAWSObject.to_dict": "7cedaaa05101f73f",
    "Template.to_dict": "d024bb41ff0c7cf6",
    "Tags.to_dict": "bd501245b5ab445f",
    "AWSHelperFn.to_dict": "c4e944ba21771377",
}

_PLAIN = (str, int, float, bool, type(None))
_Encoder = Callable[[Any], Any]


def template_data(template: Template) -> dict[str, Any]:
    """Exactly ``template.to_dict()``."""
    if type(template).to_dict is not Template.to_dict or not mirrors_troposphere():
        return template.to_dict()  # type: ignore[no-any-return]
    top: dict[str, Any] = {}  # the keys and order of Template.to_dict
    for key, value in (("Description", template.description),
                       ("Metadata", template.metadata),
                       ("Conditions", template.conditions),
                       ("Mappings", template.mappings),
                       ("Outputs", template.outputs),
                       ("Parameters", template.parameters),
                       ("AWSTemplateFormatVersion", template.version),
                       ("Transform", template.transform),
                       ("Rules", template.rules),
                       ("Globals", template.globals)):
        if value:
            top[key] = value
    top["Resources"] = template.resources
    return _encode(top)  # type: ignore[no-any-return]


def encode(value: Any) -> Any:
    """Exactly ``troposphere.encode_to_dict(value)`` (``resource.to_dict()`` is
    ``encode(resource)`` for a troposphere object)."""
    if not mirrors_troposphere():
        return troposphere.encode_to_dict(value)
    return _encode(value)


@cache
def mirrors_troposphere() -> bool:
    """Whether the installed troposphere's functions are those the walk mirrors."""
    functions = {"encode_to_dict": troposphere.encode_to_dict,
                 "BaseAWSObject.to_dict": BaseAWSObject.to_dict,
                 "Template.to_dict": Template.to_dict, "Tags.to_dict": Tags.to_dict,
                 "AWSHelperFn.to_dict": AWSHelperFn.to_dict}
    try:
        return all(hashlib.sha256(inspect.getsource(function).encode()).hexdigest()[:16]
                   == MIRRORED[name] for name, function in functions.items())
    except (OSError, TypeError):  # no source to read (a frozen or compiled install)
        return False


def _encode(value: Any) -> Any:
    kind = type(value)
    if kind in _PLAIN:
        return value
    if kind is dict:
        return {key: _encode(item) for key, item in value.items()}
    if kind is list or kind is tuple:
        return [_encode(item) for item in value]
    encoder = _ENCODERS.get(kind)
    if encoder is None:
        encoder = _ENCODERS[kind] = _encoder_for(kind)
    return encoder(value)


def _encoder_for(kind: type) -> _Encoder:
    to_dict = getattr(kind, "to_dict", None)
    if issubclass(kind, BaseAWSObject) and to_dict is BaseAWSObject.to_dict:
        return _aws_object
    if issubclass(kind, Tags) and to_dict is Tags.to_dict:
        return _tags
    if issubclass(kind, AWSHelperFn) and to_dict is AWSHelperFn.to_dict:
        return _helper
    if (to_dict is None and callable(getattr(kind, "JSONrepr", None))
            and not issubclass(kind, list | tuple | dict)
            and kind.__getattribute__ is object.__getattribute__):
        hook = getattr(kind, "__getattr__", None)
        if hook is None:
            return _jsonrepr
        if hook is awacs.AWSObject.__getattr__:
            return _awacs_object
    return _other


def _aws_object(obj: Any) -> Any:
    """``BaseAWSObject.to_dict()``, its result encoded."""
    if obj.do_validation:
        obj._validate_props()
        obj.validate()
    if obj.properties:
        return _encode(obj.resource)
    if hasattr(obj, "resource_type"):
        return _encode({key: item for key, item in obj.resource.items() if key != "Properties"})
    return {}


def _tags(obj: Any) -> Any:
    return [_encode(tag) for tag in obj.tags]


def _helper(obj: Any) -> Any:
    return _encode(obj.data)


def _jsonrepr(value: Any) -> Any:
    """A class with ``JSONrepr`` and no ``to_dict`` nor ``__getattr__`` (awacs' actions,
    ARNs, principals, conditions): only its instance could hold a ``to_dict``."""
    if "to_dict" in getattr(value, "__dict__", ()):
        return _other(value)
    return _encode(value.JSONrepr())


def _awacs_object(value: Any) -> Any:
    """An awacs object (statement, policy): its ``__getattr__`` finds only what it holds
    in ``properties``."""
    if "to_dict" in value.properties or "to_dict" in value.__dict__:
        return _other(value)
    return _encode(value.JSONrepr())


def _other(value: Any) -> Any:
    """``encode_to_dict``'s rules as they are, for one value."""
    if hasattr(value, "to_dict"):
        return _encode(value.to_dict())
    if isinstance(value, list | tuple):
        return [_encode(item) for item in value]
    if isinstance(value, dict):
        return {key: _encode(item) for key, item in value.items()}
    if hasattr(value, "JSONrepr"):
        return _encode(value.JSONrepr())
    return value


_ENCODERS: dict[type, _Encoder] = {}
