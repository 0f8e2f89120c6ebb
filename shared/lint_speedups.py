"""Cheaper equivalents of three pieces of cfn-lint's validator machinery: same findings.

Profiling ``archway lint`` at 100 services (cProfile, cfn-lint 1.58.0, rules built once)
found about a third of cfn-lint's time per template outside validation proper:

- each JSON-schema rule that extends a validator (``Validator.extend`` calls
  ``cfnlint.jsonschema.validators.create``) builds a new dataclass *class*: ~75 per
  template, ~1.5 ms of ``dataclasses`` code generation each, all of them cyclic garbage;
- ``evolve`` of validators, contexts and function filters calls ``dataclasses.fields``
  on every call (~6,000 calls per template);
- ``BaseJsonSchema.extend_validator`` builds a throwaway validator (with an empty
  ``Template``, its graph and a schema resolver) before evolving it into the one it
  returns.

``install()`` replaces them with equivalents:

- ``create`` returns the class it built before for the same arguments: the same
  validator functions (by identity: a rule's bound method by its rule and function), an
  equal function filter (a dataclass of flags, never changed after it is made) and the
  same function resolvers. A class built by ``create`` depends on nothing else, so the
  class it returns behaves as a new one would; the arguments are kept with it so no
  identity is ever reused.
- ``evolve`` reads the class's init field names once; a validator's and a context's
  copy their fields without running the dataclass ``__init__`` (see ``_validator_evolve``
  and ``_context_evolve`` for why that is the same).
- ``extend_validator`` builds the validator it returns directly, with the same fields.

The replaced functions' source is checked against the cfn-lint version they were written
for: if any differs (a new cfn-lint), nothing is replaced and cfn-lint runs as shipped,
only slower. tests/unit/test_lint_engine.py lints templates with findings of every level
and Archway's real templates both with cfn-lint as shipped (a separate process) and with
these, and requires the same findings.
"""

from __future__ import annotations

import dataclasses
import hashlib
import inspect
from collections.abc import Callable, Mapping
from types import MethodType
from typing import Any

# sha256 (first 16 hex digits) of the source of each function replaced, as of cfn-lint
# 1.58.0; see the module docstring.
EXPECTED_SOURCE = {
    "create": "2d1dd51fbc7a640b",
    "Context.evolve": "05aa695393629cc4",
    "FunctionFilter.evolve": "58dfb27d5ccfea44",
    "BaseJsonSchema.extend_validator": "512d7e20846250f7",
}
MAX_CLASSES = 4096  # classes kept by ``create``; ~12 are built for Archway's templates

_installed: list[bool] = []


def installed() -> bool:
    """Whether ``install()`` replaced cfn-lint's functions in this process."""
    return bool(_installed and _installed[0])


def install() -> bool:
    """Replace the functions once per process (a no-op after the first call); whether
    they are replaced (False: this cfn-lint's source is not the one they were checked
    against)."""
    if not _installed:
        _installed.append(_install())
    return _installed[0]


def _source_matches(functions: dict[str, Callable[..., Any]]) -> bool:
    for name, function in functions.items():
        try:
            source = inspect.getsource(function)
        except (OSError, TypeError):
            return False
        if hashlib.sha256(source.encode()).hexdigest()[:16] != EXPECTED_SOURCE[name]:
            return False
    return True


def _install() -> bool:
    from cfnlint.context.context import Context
    from cfnlint.jsonschema import _filter, validators
    from cfnlint.rules.jsonschema.Base import BaseJsonSchema

    originals = {"create": validators.create, "Context.evolve": Context.evolve,
                 "FunctionFilter.evolve": _filter.FunctionFilter.evolve,
                 "BaseJsonSchema.extend_validator": BaseJsonSchema.extend_validator}
    if not _source_matches(originals):
        return False
    validators.create = _caching_create(validators.create)
    for built in (validators.CfnTemplateValidator, validators.StandardValidator):
        built.evolve = _validator_evolve(built)  # type: ignore[method-assign]
    Context.evolve = _context_evolve(Context)  # type: ignore[method-assign]
    _filter.FunctionFilter.evolve = _evolve(_filter.FunctionFilter)  # type: ignore[method-assign]
    BaseJsonSchema.extend_validator = _extend_validator  # type: ignore[method-assign]
    return True


def _init_names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls) if f.init)


def _evolve(cls: type) -> Callable[..., Any]:
    """``evolve`` as cfn-lint writes it (a copy of ``self`` with ``kwargs`` changed), the
    field names read once."""
    names = _init_names(cls)

    def evolve(self: Any, **kwargs: Any) -> Any:
        for name in names:
            if name not in kwargs:
                kwargs[name] = getattr(self, name)
        return self.__class__(**kwargs)

    return evolve


def _validator_evolve(cls: type) -> Callable[..., Any]:
    """A validator's ``evolve``: the new one's attributes are the old one's with
    ``kwargs`` changed, set without running ``__init__``. The same as running it: the
    fields it does not take are the class's constants, and ``__post_init__`` does
    something only when the context or the resolver is None (then, and for a name that
    is not a field, ``__init__`` runs as before)."""
    names = frozenset(_init_names(cls))
    slow = _evolve(cls)

    def evolve(self: Any, **kwargs: Any) -> Any:
        if (type(self) is not cls or not names.issuperset(kwargs)
                or kwargs.get("context", True) is None
                or kwargs.get("resolver", True) is None):
            return slow(self, **kwargs)
        new = object.__new__(cls)
        new.__dict__.update(self.__dict__)
        new.__dict__.update(kwargs)
        return new

    return evolve


def _context_evolve(cls: type) -> Callable[..., Any]:
    """``Context.evolve``: ``ref_values`` merged into the current ones, then a copy of
    ``self`` with ``kwargs`` changed, its fields set as the frozen dataclass's
    ``__init__`` sets them (it has no ``__post_init__``; only the fields are copied, not
    the cached ``module_names``, which depends on them)."""
    names = _init_names(cls)
    known = frozenset(names)

    def evolve(self: Any, **kwargs: Any) -> Any:
        if "ref_values" in kwargs:
            merged = self.ref_values.copy()
            merged.update(kwargs["ref_values"])
            kwargs["ref_values"] = merged
        if type(self) is not cls or not known.issuperset(kwargs):
            for name in names:
                kwargs.setdefault(name, getattr(self, name))
            return self.__class__(**kwargs)
        new = object.__new__(cls)
        state, old = new.__dict__, self.__dict__
        for name in names:
            state[name] = kwargs[name] if name in kwargs else old[name]
        return new

    return evolve


def _identity(value: Any) -> tuple[Any, ...]:
    if isinstance(value, MethodType):  # a new object at each attribute access
        return ("method", id(value.__self__), id(value.__func__))
    return ("object", id(value))


def _mapping_key(mapping: Mapping[str, Any] | None) -> tuple[Any, ...]:
    return tuple((name, _identity(v)) for name, v in mapping.items()) if mapping else ()


def _filter_key(function_filter: Any) -> tuple[Any, ...] | None:
    """An equal filter gives an equal key; None: the filter cannot be keyed."""
    if function_filter is None:
        return ()
    values = []
    for f in dataclasses.fields(function_filter):
        value = getattr(function_filter, f.name)
        value = tuple(value) if isinstance(value, list) else value
        try:
            hash(value)
        except TypeError:
            return None
        values.append((f.name, value))
    return tuple(values)


def _caching_create(create: Callable[..., type]) -> Callable[..., type]:
    classes: dict[tuple[Any, ...], tuple[type, tuple[Any, ...]]] = {}

    def cached_create(validators: Mapping[str, Any] | None = None,
                      function_filter: Any = None,
                      fn_resolvers: Mapping[str, Any] | None = None) -> type:
        filter_key = _filter_key(function_filter)
        if filter_key is None:
            return _built(create, validators, function_filter, fn_resolvers)
        key = (_mapping_key(validators), filter_key, _mapping_key(fn_resolvers))
        if key not in classes:
            if len(classes) >= MAX_CLASSES:
                classes.clear()
            cls = _built(create, validators, function_filter, fn_resolvers)
            classes[key] = (cls, (validators, function_filter, fn_resolvers))
        return classes[key][0]

    return cached_create


def _built(create: Callable[..., type], *args: Any) -> type:
    cls = create(*args)
    cls.evolve = _validator_evolve(cls)  # type: ignore[attr-defined]
    return cls


def _extend_validator(self: Any, validator: Any, schema: Any, context: Any,
                      validators: dict[str, Any] | None = None) -> Any:
    """``BaseJsonSchema.extend_validator`` without the throwaway validator: the same
    validator class, schema, template, context and a resolver of the schema (the function
    filter is the class's default in both)."""
    from cfnlint.schema.resolver import RefResolver

    all_validators = self._get_validators()
    if validators:
        all_validators.update(validators)
    cls = validator.extend(validators=all_validators)
    return cls(schema=schema, cfn=validator.cfn, context=context,
               resolver=RefResolver.from_schema(schema))
