"""The Redis store's Lua files and script names match: every ``.lua`` file in the package is
loaded by some script, every script has its files, and each is registered with the client.
No server is needed."""

from __future__ import annotations

import re
from dataclasses import fields
from importlib import resources

import pytest

pytest.importorskip("redis")

from taskbasket.backends.redis import scripts


def lua_files() -> set[str]:
    """The names (without ``.lua``) of the Lua files the package ships."""
    folder = resources.files("taskbasket.backends.redis").joinpath("scripts")
    return {entry.name[:-4] for entry in folder.iterdir() if entry.name.endswith(".lua")}


def files_of(name: str) -> tuple[str, ...]:
    if name in scripts.STANDALONE:
        return (name,)
    if name in scripts.COMPOSED:
        return scripts.COMPOSED[name]
    if name in scripts.WRAPPED:
        before, inner, after = scripts.WRAPPED[name]
        return (*before, inner, after)
    return (scripts.BASE, *scripts.PARTS[name], name)


def test_every_lua_file_is_loaded_by_some_script_and_every_script_has_its_files() -> None:
    used = {file for name in scripts.script_names() for file in files_of(name)}
    assert lua_files() - used == set(), "orphan .lua files: no script loads them"
    assert used - lua_files() == set(), "scripts whose .lua files are missing"


def test_library_parts_are_named_lib_and_scripts_are_not() -> None:
    assert all(part.startswith("lib_") for part in (
        scripts.BASE, *(p for parts in scripts.PARTS.values() for p in parts)))
    assert not any(name.startswith("lib_") for name in scripts.script_names())
    assert len(set(scripts.script_names())) == len(scripts.script_names())


def test_every_script_is_registered_and_its_text_is_complete() -> None:
    assert {field.name for field in fields(scripts.RedisScripts)} == set(scripts.script_names())
    for name in scripts.script_names():
        text = scripts.script_text(name)
        assert text.startswith("#!lua flags=no-cluster\n"), name
        assert text.count("#!lua") == 1, name  # only the first file carries the shebang
        assert not re.search(r"__[A-Z_]+__", text), f"{name}: a placeholder is left"
    assert f"local WAKE_CAP = {scripts.WAKE_CAP}\n" in scripts.script_text("claim")
    # the listed fields
    assert "'progress', 'limit_key', 'snoozes', 'workflow_id'}" in scripts.script_text("page")


def test_an_unknown_script_name_is_refused() -> None:
    with pytest.raises(KeyError, match="no Redis script named 'claims'"):
        scripts.script_text("claims")
