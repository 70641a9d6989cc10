"""Docs stay current: every setting is documented."""
import dataclasses
import pathlib
import typing

from hotline.common import settings

ROOT = pathlib.Path(__file__).resolve().parents[3]


def test_every_setting_is_in_docs_configuration():
    text = (ROOT / "docs" / "configuration.md").read_text()
    hints = typing.get_type_hints(settings.Settings)
    missing = [f"HOTLINE_{sec.name}_{f.name}".upper()
               for sec in dataclasses.fields(settings.Settings)
               for f in dataclasses.fields(hints[sec.name])
               if f"`HOTLINE_{sec.name}_{f.name}`".upper() not in text.upper()]
    assert not missing, f"add to docs/configuration.md: {missing}"


def test_cli_help_names_every_role():
    from hotline.cli import ROLES, build_parser

    text = build_parser().format_help()
    for role in ROLES:
        assert role in text
    assert set(ROLES) >= {"routing", "ivr", "recording", "cti", "reporting", "all", "demo", "migrate"}
