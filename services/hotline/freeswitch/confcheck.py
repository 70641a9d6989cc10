"""Check a FreeSWITCH 1.10 configuration tree against Hotline's settings.

FreeSWITCH cannot run where Hotline is built and tested, so this reads a
configuration tree the way FreeSWITCH does and compares it with what Hotline
expects, before FreeSWITCH ever starts:

1. Every ``*.xml`` under the tree must be a well-formed fragment once the
   preprocessor has taken its directives out (file:line on error).
2. ``freeswitch.xml`` is preprocessed as ``preprocess()`` in
   src/switch_xml.c does it, given an environment mapping: line by line,
   ``$${name}`` replaced first (an unknown name becomes the empty string),
   lines holding ``<include>``, ``</include>`` or ``<?`` dropped, then the
   ``X-PRE-PROCESS`` directives (``set``, ``env-set``, ``include``) and the
   ``<!--#set``/``<!--#include`` comment forms. ``env-set`` with data
   ``name=$VARIABLE`` sets ``name`` only when VARIABLE is in the environment.
   Includes are globs relative to the including file's directory.
3. The assembled document is parsed (each XML error mapped back to the file
   and line it came from) and compared with Hotline's settings: the modules
   and the configurations they need, event_socket.conf against
   ``Settings.esl``, every ``socket`` action against ``Settings.ivr``, the
   ``hotline_node`` variable against ``Settings.esl.node_id``,
   ``recordings_dir`` against ``Settings.recording.directory``, the hold music
   against local_stream.conf, every ``transfer``/``execute_extension``/
   ``bridge`` target against the dialplan, directory and SIP profiles.

The check is stricter than FreeSWITCH's own XML parser (which leaves unknown
entities and a bare ``&`` alone): it wants well-formed XML. Variables
FreeSWITCH computes at start-up (``$${local_ip_v4}``, ``$${sounds_dir}``...)
are taken from the Debian package layout; ``$${core_uuid}`` is not among them
because FreeSWITCH sets it only after the configuration is first read.

Library: :func:`check_tree` returns :class:`Problem` s (empty when fine).
Command line: ``hotline freeswitch-check [--conf DIR]`` (hotline.cli).
"""
from __future__ import annotations

import dataclasses
import glob
import ipaddress
import os
import pathlib
import re
import sys
import xml.parsers.expat
from typing import Iterator, Mapping, TextIO

from hotline.common import settings as settings_mod

# Variables FreeSWITCH sets in switch_core_init() before it reads
# freeswitch.xml, with the values of the Debian packages' layout (conf_dir is
# the checked tree). See the list in conf/vanilla/vars.xml.
BUILTIN_VARIABLES: dict[str, str] = {
    "hostname": "localhost",
    "local_ip_v4": "192.0.2.1",
    "local_mask_v4": "255.255.255.0",
    "local_ip_v6": "::1",
    "switch_serial": "000000000000",
    "base_dir": "/usr",
    "recordings_dir": "/var/lib/freeswitch/recordings",
    "sounds_dir": "/usr/share/freeswitch/sounds",
    "sound_prefix": "/usr/share/freeswitch/sounds",
    "log_dir": "/var/log/freeswitch",
    "run_dir": "/var/run/freeswitch",
    "db_dir": "/var/lib/freeswitch/db",
    "mod_dir": "/usr/lib/freeswitch/mod",
    "htdocs_dir": "/usr/share/freeswitch/htdocs",
    "script_dir": "/usr/share/freeswitch/scripts",
    "temp_dir": "/tmp",
    "grammar_dir": "/usr/share/freeswitch/grammar",
    "fonts_dir": "/usr/share/freeswitch/fonts",
    "images_dir": "/var/lib/freeswitch/images",
    "certs_dir": "/etc/freeswitch/tls",
    "storage_dir": "/var/lib/freeswitch/storage",
    "cache_dir": "/var/cache/freeswitch",
    "data_dir": "/usr/share/freeswitch",
    "localstate_dir": "/var/lib/freeswitch",
    "zrtp_enabled": "false",
    "nat_public_addr": "",
    "nat_private_addr": "",
    "nat_type": "",
}

# Network lists FreeSWITCH creates itself (switch_load_network_lists).
BUILTIN_ACLS = frozenset({"rfc6598.auto", "rfc1918.auto", "wan.auto", "wan_v4.auto", "wan_v6.auto",
                          "nat.auto", "loopback.auto", "localnet.auto", "any_v4.auto", "any_v6.auto"})

# Modules that do not work without their configuration.
MODULE_CONFIG: dict[str, tuple[str, str]] = {
    "mod_console": ("console.conf", "the console logger is not configured"),
    "mod_logfile": ("logfile.conf", "nothing is logged to a file"),
    "mod_sofia": ("sofia.conf", "there is no SIP profile"),
    "mod_event_socket": ("event_socket.conf", "it listens with its built-in password"),
    "mod_local_stream": ("local_stream.conf", "the module refuses to load"),
}

# What Hotline needs loaded, and what for.
HOTLINE_MODULES: dict[str, str] = {
    "mod_event_socket": "inbound ESL (routing, recording) and the socket application (IVR)",
    "mod_sofia": "SIP phones and trunks",
    "mod_commands": "the API commands it sends (originate, uuid_bridge, uuid_record, ...)",
    "mod_dptools": "answer, playback, play_and_get_digits, set, bridge, park",
    "mod_dialplan_xml": "the XML dialplan that hands calls to the IVR",
    "mod_sndfile": "wav prompts and recordings",
}

WILDCARD_ADDRESSES = frozenset({"0.0.0.0", "::", "[::]", ""})
_APPLICATIONS = ("socket", "transfer", "execute_extension", "bridge", "set", "export")


@dataclasses.dataclass(frozen=True)
class Where:
    path: pathlib.Path
    line: int = 0


@dataclasses.dataclass(frozen=True)
class Problem:
    """One problem: where (a file and line, line 0 for the file) and what."""

    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}" if self.line else f"{self.path}: {self.message}"


@dataclasses.dataclass
class Definition:
    """A global variable's value and where it came from."""

    value: str
    where: Where | None = None     # None: set by FreeSWITCH itself
    env: str | None = None         # the environment variable of an env-set


class Node:
    """An element of the assembled document, with the file and line it came from."""

    __slots__ = ("tag", "attrs", "children", "where")

    def __init__(self, tag: str, attrs: dict[str, str], where: Where) -> None:
        self.tag = tag
        self.attrs = attrs
        self.children: list[Node] = []
        self.where = where

    def get(self, name: str, default: str = "") -> str:
        return self.attrs.get(name, default)

    def all(self, tag: str) -> list[Node]:
        return [c for c in self.children if c.tag == tag]

    def first(self, tag: str, name: str | None = None) -> Node | None:
        """The first child `tag` (named `name`): what switch_xml_find_child returns."""
        for child in self.children:
            if child.tag == tag and (name is None or child.get("name").lower() == name.lower()):
                return child
        return None

    def iter(self, tag: str) -> Iterator[Node]:
        for child in self.children:
            if child.tag == tag:
                yield child
            yield from child.iter(tag)


def _var_check(value: str) -> str:
    """switch_string_var_check(v, SWITCH_TRUE): a global variable's value may
    not hold ``${``; switch_core_set_variable() turns the ``$`` into ``%``."""
    out = list(value)
    dollar = None
    for i, ch in enumerate(out):
        if ch == "$":
            dollar = i
        elif dollar is not None:
            if ch == "{":
                out[dollar] = "%"
                dollar = None
            elif ch != "\\":
                dollar = None
    return "".join(out)


def _lines(text: str) -> list[str]:
    """The lines as switch_fp_read_dline() reads them: split after each newline only."""
    parts = text.split("\n")
    return [part + "\n" for part in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


def _find_end_paren(text: str, start: int) -> int | None:
    """switch_find_end_paren(): the index of the ``}`` closing the ``{`` at start."""
    depth = 0
    for i in range(start, len(text)):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return i
    return None


class Preprocessor:
    """preprocess() of src/switch_xml.c (FreeSWITCH 1.10), on a given environment."""

    MAX_DEPTH = 100

    def __init__(self, conf_dir: pathlib.Path, env: Mapping[str, str],
                 builtins: Mapping[str, str] | None = None) -> None:
        self.conf_dir = conf_dir
        self.env = env
        values = dict(BUILTIN_VARIABLES if builtins is None else builtins)
        values["conf_dir"] = str(conf_dir)
        self.variables: dict[str, Definition] = {k: Definition(v) for k, v in values.items()}
        self.unset_env: dict[str, tuple[str, Where]] = {}      # name -> (VARIABLE, its env-set)
        self.undefined: list[tuple[str, Where]] = []           # $${name} of no variable, in order
        self.output: list[tuple[str, Where]] = []              # the document, piece by piece
        self.problems: list[tuple[Where, str]] = []

    def run(self, file: pathlib.Path) -> None:
        self._preprocess(self.conf_dir, file, 0)

    def value(self, name: str) -> str | None:
        found = self.variables.get(name)
        return None if found is None else found.value

    # -- the preprocessor ------------------------------------------------
    def _preprocess(self, cwd: pathlib.Path, file: pathlib.Path, depth: int) -> bool:
        if depth > self.MAX_DEPTH:
            return False
        if file.is_dir():
            return True                      # fopen() works, reading a directory yields nothing
        try:
            text = file.read_bytes().decode("utf-8", errors="replace")
        except OSError as exc:
            self.problems.append((Where(file), f"cannot be read: {exc.strerror or exc}"))
            return True
        in_comment = False                   # inside a multi-line <!--# comment
        for number, raw in enumerate(_lines(text), 1):
            where = Where(file, number)
            line = self._expand(raw, where)
            if "<include>" in raw or "</include>" in raw or "<?" in raw:
                continue
            if in_comment:
                end = raw.find("-->")
                if end < 0:
                    continue
                in_comment = False
                line = raw[end + 3:]         # FreeSWITCH goes on with the unexpanded rest
            at = line.lower().find("x-pre-process")
            if at >= 0:
                if at > 0 and line[at - 1] == "<":
                    self._directive(cwd, line[at:], where, depth)
                continue                     # the whole line is gone either way
            hash_comment = line.find("<!--#")
            if hash_comment >= 0:
                in_comment = self._hash_comment(cwd, line, hash_comment, where, depth)
                continue
            self.output.append((line, where))
        return True

    def _expand(self, line: str, where: Where) -> str:
        """expand_vars(): every $${name} replaced by the variable's value."""
        if "$${" not in line:
            return line
        out: list[str] = []
        i = 0
        while i < len(line):
            if line.startswith("$${", i):
                end = _find_end_paren(line, i + 2)
                if end is not None:
                    name = line[i + 3:end]
                    found = self.variables.get(name)
                    if found is None:
                        self.undefined.append((name, where))
                    else:
                        out.append(found.value)
                    i = end + 1
                    continue
                self.problems.append((where, "unterminated $${...}"))
            out.append(line[i])
            i += 1
        return "".join(out)

    def _directive(self, cwd: pathlib.Path, text: str, where: Where, depth: int) -> None:
        end = text.find("/>")
        if end >= 0:
            text = text[:end + 2]
        command = self._quoted_after(text, "cmd")
        if command is None:
            return
        cmd, rest = command
        data = self._quoted_after(rest, "data", closed=False)
        if data is None:
            return
        self._command(cmd.lower(), data[0], cwd, where, depth)

    @staticmethod
    def _quoted_after(text: str, keyword: str, closed: bool = True) -> tuple[str, str] | None:
        """`keyword` ... `=` ... `"value"` (case-insensitive keyword), as the C code looks for them."""
        at = text.lower().find(keyword)
        if at < 0:
            return None
        equals = text.find("=", at)
        if equals < 0:
            return None
        quote = text.find('"', equals)
        if quote < 0:
            return None
        value = text[quote + 1:]
        close = value.find('"')
        if close < 0:
            return None if closed else (value, "")
        return value[:close], value[close + 1:]

    def _hash_comment(self, cwd: pathlib.Path, line: str, at: int, where: Where, depth: int) -> bool:
        """``<!--#command arg-->``: returns True when the comment goes on past this line."""
        end = line.find("-->", at)
        self.output.append((line[:at] + (line[end + 3:] if end >= 0 else ""), where))
        body = line[at + 5:end] if end >= 0 else line[at + 5:]
        body = re.split(r"[\r\n]", body, maxsplit=1)[0]
        cmd, space, arg = body.partition(" ")
        if space:
            first = arg.find('"')
            if first >= 0:
                second = arg.find('"', first + 1)
                if second >= 0:
                    arg = arg[first + 1:second]
            if cmd.lower() != "env-set":      # the comment form has no env-set in 1.10
                self._command(cmd.lower(), arg, cwd, where, depth)
        return end < 0

    def _command(self, cmd: str, data: str, cwd: pathlib.Path, where: Where, depth: int) -> None:
        if cmd == "set":
            name, equals, value = data.partition("=")
            if equals:
                self._set(name.rstrip(" "), value.lstrip(" "), where)
        elif cmd == "env-set":
            name, equals, value = data.partition("=")
            if equals and value.startswith("$"):
                variable = value[1:]
                if variable in self.env:
                    self._set(name, self.env[variable], where, env=variable)
                else:
                    self.unset_env[name] = (variable, where)
        elif cmd in ("exec-set", "stun-set"):
            name, equals, _ = data.partition("=")
            if equals:                       # a command's output: unknown here, but defined
                self._set(name.rstrip(" "), "", where)
        elif cmd == "include":
            self._include(cwd, data, where, depth + 1)
        # exec: a command's output, which cannot be known here

    def _set(self, name: str, value: str, where: Where, env: str | None = None) -> None:
        self.variables[name] = Definition(_var_check(value), where, env)

    def _include(self, cwd: pathlib.Path, pattern: str, where: Where, depth: int) -> None:
        full = pattern if os.path.isabs(pattern) else os.path.join(cwd, pattern)
        matches = sorted(glob.glob(full))
        if not matches:
            self.problems.append((where, f'include "{pattern}" matches no file'))
            return
        for match in matches:
            path = pathlib.Path(match)
            if not self._preprocess(path.parent, path, depth):
                self.problems.append((where, f'include "{pattern}": more than {self.MAX_DEPTH} '
                                             "levels of includes (FreeSWITCH stops there)"))
                return

    # -- results ---------------------------------------------------------
    def document(self) -> tuple[str, list[Where]]:
        """The preprocessed document and, for each of its lines, where it came from."""
        origins: list[Where] = []
        open_line = False
        for text, where in self.output:
            if not text:
                continue
            pieces = text.split("\n")
            for index, piece in enumerate(pieces):
                if index == 0 and open_line:
                    continue
                if index == len(pieces) - 1 and piece == "":
                    open_line = False
                    break
                origins.append(where)
                open_line = True
        return "".join(text for text, _ in self.output), origins

    def explain(self, where: Where) -> str:
        """Where the variables used on a source line got their values, e.g.
        " (hotline_esl_port from HOTLINE_ESL_PORT)" (never the values: they may be secrets)."""
        try:
            line = _lines(where.path.read_text(errors="replace"))[where.line - 1]
        except (OSError, IndexError):
            return ""
        notes = []
        for name in re.findall(r"\$\$\{([^}]*)\}", line):
            found = self.variables.get(name)
            if found is None:
                if name in self.unset_env:
                    notes.append(f"{name} is empty: {self.unset_env[name][0]} is not set")
            elif found.env:
                notes.append(f"{name} from {found.env}")
        return f" ({'; '.join(notes)})" if notes else ""


def fragment_problem(path: pathlib.Path) -> tuple[int, str] | None:
    """Whether one file, as the preprocessor passes it on (its directives and
    <include> lines taken out), is well-formed XML: (line, message) if not."""
    try:
        text = path.read_bytes().decode("utf-8", errors="replace")
    except OSError as exc:
        return 0, f"cannot be read: {exc.strerror or exc}"
    kept = []
    for raw in _lines(text):
        lowered = raw.lower()
        if "<include>" in raw or "</include>" in raw or "<?" in raw or "x-pre-process" in lowered:
            kept.append("\n" if raw.endswith("\n") else "")
        else:
            kept.append(raw)
    lines = len(kept)
    parser = xml.parsers.expat.ParserCreate()
    stack = _track_open_elements(parser)
    try:
        parser.Parse("<fragment>" + "".join(kept) + "</fragment>", True)
    except xml.parsers.expat.ExpatError as exc:
        line = exc.lineno
        if line > lines and len(stack) > 1:          # found at the end: name what is still open
            line = stack[-1][1]
        return line, _xml_error(exc, stack[1:])
    return None


def _track_open_elements(parser: xml.parsers.expat.XMLParserType) -> list[tuple[str, int]]:
    """The elements open at each point of the parse, with their lines."""
    stack: list[tuple[str, int]] = []
    parser.StartElementHandler = lambda tag, attrs: stack.append((tag, parser.CurrentLineNumber))
    parser.EndElementHandler = lambda tag: stack.pop()
    return stack


def _xml_error(exc: xml.parsers.expat.ExpatError, open_elements: list[tuple[str, int]]) -> str:
    message = f"not well-formed XML: {xml.parsers.expat.ErrorString(exc.code)}"
    if exc.code == xml.parsers.expat.errors.codes[xml.parsers.expat.errors.XML_ERROR_TAG_MISMATCH] \
            and open_elements:
        tag, line = open_elements[-1]
        message += f" (<{tag}> of line {line} is not closed)"
    return message


def parse_document(text: str, origins: list[Where]) -> tuple[Node | None, tuple[Where, str] | None]:
    """Parse the preprocessed document into Nodes that know their source line."""
    fallback = origins[-1] if origins else Where(pathlib.Path("freeswitch.xml"))

    def origin(line: int) -> Where:
        return origins[line - 1] if 0 < line <= len(origins) else fallback

    parser = xml.parsers.expat.ParserCreate()
    stack: list[Node] = []
    root: list[Node] = []

    def start(tag: str, attrs: dict[str, str]) -> None:
        node = Node(tag, attrs, origin(parser.CurrentLineNumber))
        (stack[-1].children if stack else root).append(node)
        stack.append(node)

    def end(tag: str) -> None:
        stack.pop()

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    try:
        parser.Parse(text, True)
    except xml.parsers.expat.ExpatError as exc:
        where = origin(exc.lineno)
        message = _xml_error(exc, [(n.tag, n.where.line) for n in stack if n.where.path == where.path])
        return None, (where, message)
    return root[0], None


# -- addresses ---------------------------------------------------------
def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return None


def _is_loopback(host: str) -> bool:
    address = _ip(host)
    return host.lower() == "localhost" if address is None else address.is_loopback


def _split_host_port(text: str) -> tuple[str, int | None]:
    host, colon, port = text.rpartition(":")
    if not colon or not port.isdigit():
        return text.strip("[]"), None
    return host.strip("[]"), int(port)


def _allows(text: str) -> bool:
    """An ACL's default or node type: switch_true(), so allow/true/yes/on/1."""
    return text.strip().lower() in ("allow", "true", "t", "yes", "on", "enabled", "active", "1")


def _atoi(text: str) -> int:
    """C's atoi(): the leading digits, 0 when there are none."""
    match = re.match(r"\s*([+-]?\d+)", text)
    return int(match.group(1)) if match else 0


class Checker:
    """The checks of one tree against one Settings."""

    def __init__(self, conf_dir: pathlib.Path, display: pathlib.Path, env: Mapping[str, str],
                 settings: settings_mod.Settings) -> None:
        self.conf_dir = conf_dir
        self.display_root = display
        self.settings = settings
        self.pre = Preprocessor(conf_dir, env)
        self.problems: list[Problem] = []
        self.configs: dict[str, Node] = {}
        self.contexts: dict[str, Node] = {}
        self.domains: dict[str, Node] = {}
        self.profiles: dict[str, Node] = {}
        esl = settings.esl
        self.node_id, self.esl_host, self.esl_port = esl.node_id, esl.host, esl.port
        self.esl_source = ("HOTLINE_ESL_HOST, esl.host", "HOTLINE_ESL_PORT, esl.port", "HOTLINE_ESL_NODE_ID, esl.node_id")

    # -- reporting -------------------------------------------------------
    def show(self, path: pathlib.Path) -> str:
        try:
            return str(self.display_root / path.resolve().relative_to(self.conf_dir))
        except ValueError:
            return str(path)

    def problem(self, where: Where, message: str) -> None:
        found = Problem(self.show(where.path), where.line, message)
        if found not in self.problems:
            self.problems.append(found)

    # -- the whole check -------------------------------------------------
    def run(self) -> list[Problem]:
        top = self.conf_dir / "freeswitch.xml"
        broken: set[pathlib.Path] = set()
        for path in sorted(self.conf_dir.rglob("*.xml")):
            found = fragment_problem(path)
            if found is not None:
                broken.add(path.resolve())
                self.problem(Where(path, found[0]), found[1])
        if not top.is_file():
            self.problem(Where(top), "missing: FreeSWITCH reads its whole configuration from freeswitch.xml")
            return self.problems
        self.pre.run(top)
        for where, message in self.pre.problems:
            self.problem(where, message)
        self._choose_node(top)
        self._check_variables()
        self._check_environment_values()
        text, origins = self.pre.document()
        root, error = parse_document(text, origins)
        if error is not None:
            where, message = error
            if where.path.resolve() not in broken:
                self.problem(where, message + " (after preprocessing: check the values of the variables used)")
            return self.problems
        assert root is not None
        self._index(root)
        self._check_modules()
        self._check_event_socket()
        self._check_dialplan()
        self._check_directory()
        self._check_profiles()
        self._check_recordings()
        self._check_hold_music()
        return self.problems

    # -- variables -------------------------------------------------------
    def _check_variables(self) -> None:
        uses: dict[str, list[str]] = {}
        for name, where in self.pre.undefined:
            if name in self.pre.unset_env:
                uses.setdefault(name, []).append(f"{self.show(where.path)}:{where.line}")
            else:
                self.problem(where, f"$${{{name}}} is not defined: FreeSWITCH puts an empty string there")
        for name, places in uses.items():
            variable, env_set = self.pre.unset_env[name]
            self.problem(env_set, f"{variable} is not set, so $${{{name}}} is empty (used at {', '.join(places)})")

    def _check_environment_values(self) -> None:
        for name, found in self.pre.variables.items():
            if not found.env or found.where is None:
                continue
            raw = self.pre.env.get(found.env, "")
            bad = sorted({ch for ch in raw if ch in '"<&'} | ({"\\n"} if "\n" in raw else set()))
            if bad:
                self.problem(found.where, f"{found.env} holds {' '.join(bad)}, which FreeSWITCH's XML "
                                          "cannot carry: use another value")
            if "${" in raw:
                self.problem(found.where, f"{found.env} holds '${{', which FreeSWITCH turns into '%{{' "
                                          f"when it sets {name}")

    # -- the document ----------------------------------------------------
    def _index(self, root: Node) -> None:
        if root.tag != "document":
            self.problem(root.where, f"the root element is <{root.tag}>, FreeSWITCH wants <document>")
        sections = {s.get("name").lower(): s for s in reversed(root.all("section"))}
        self.configs = self._named(sections.get("configuration"), "configuration")
        self.contexts = self._named(sections.get("dialplan"), "context")
        self.domains = self._named(sections.get("directory"), "domain")
        sofia = self.configs.get("sofia.conf")
        profiles = sofia.first("profiles") if sofia else None
        self.profiles = self._named(profiles, "profile")

    def _named(self, parent: Node | None, tag: str) -> dict[str, Node]:
        """Children by name, the first one winning as in switch_xml_find_child()."""
        named: dict[str, Node] = {}
        for child in parent.all(tag) if parent else []:
            key = child.get("name").lower()
            if key in named:
                first = named[key].where
                self.problem(child.where, f'a second <{tag} name="{child.get("name")}">: FreeSWITCH uses '
                                          f"only the first, at {self.show(first.path)}:{first.line}")
            else:
                named[key] = child
        return named

    @staticmethod
    def _params(node: Node | None, container: str = "settings") -> dict[str, Node]:
        """<param name value> of a settings block, the last one winning as in the modules' loops."""
        block = node.first(container) if node else None
        return {p.get("name"): p for p in block.all("param")} if block else {}

    # -- modules ---------------------------------------------------------
    def _check_modules(self) -> None:
        modules = self.configs.get("modules.conf")
        if modules is None:
            self.problem(Where(self.conf_dir / "freeswitch.xml"),
                         "no modules.conf configuration (autoload_configs/modules.conf.xml): no module would load")
            return
        loaded: dict[str, Node] = {}
        for load in modules.iter("load"):
            name = load.get("module")
            loaded.setdefault(name, load)
            if name in MODULE_CONFIG:
                conf, consequence = MODULE_CONFIG[name]
                if conf not in self.configs:
                    self.problem(load.where, f"{name} is loaded but there is no {conf} configuration "
                                             f"(autoload_configs/{conf}.xml): {consequence}")
        streams = self.configs.get("local_stream.conf")
        if "mod_local_stream" in loaded and streams is not None and not streams.all("directory"):
            self.problem(streams.where, "local_stream.conf has no <directory>: mod_local_stream refuses to load")
        if "mod_sofia" in loaded and "sofia.conf" in self.configs and not self.profiles:
            self.problem(self.configs["sofia.conf"].where, "sofia.conf has no <profile>: no SIP at all")
        needed = dict(HOTLINE_MODULES)
        music = self.settings.routing.hold_music
        if music.startswith("local_stream://"):
            needed["mod_local_stream"] = f"the hold music {music} (HOTLINE_ROUTING_HOLD_MUSIC)"
        elif music.startswith("tone_stream://"):
            needed["mod_tone_stream"] = f"the hold music {music} (HOTLINE_ROUTING_HOLD_MUSIC)"
        for name, why in needed.items():
            if name not in loaded:
                self.problem(modules.where, f"{name} is not loaded: Hotline needs it for {why}")

    # -- which node this tree is ---------------------------------------
    def _choose_node(self, top: pathlib.Path) -> None:
        """Which of Hotline's FreeSWITCH nodes this tree configures: the only
        one, or (HOTLINE_ESL_NODES) the one named by hotline_node_id."""
        esl = self.settings.esl
        if not esl.nodes.strip():
            return
        self.esl_source = ("HOTLINE_ESL_NODES, esl.nodes",) * 3
        defined = self.pre.variables.get("hotline_node_id")
        name = defined.value if defined is not None else ""
        for node_id, host, port in esl.node_addresses():
            if node_id == name:
                self.node_id, self.esl_host, self.esl_port = node_id, host, port
                return
        where = defined.where if defined is not None and defined.where is not None else Where(top)
        self.problem(where, f"hotline_node_id is {name or 'empty'}, which is not one of Hotline's nodes "
                            f"({', '.join(n for n, _, _ in esl.node_addresses())}: HOTLINE_ESL_NODES, esl.nodes)")

    # -- event socket ----------------------------------------------------
    def _check_event_socket(self) -> None:
        conf = self.configs.get("event_socket.conf")
        if conf is None:
            return
        esl = self.settings.esl
        params = self._params(conf)
        settings_block = conf.first("settings")
        acls = [(p.get("value"), p.where) for p in (settings_block.all("param") if settings_block else [])
                if p.get("name").lower() == "apply-inbound-acl" and p.get("value")]

        password = params.get("password")
        where = password.where if password is not None else conf.where
        value = password.get("value") if password is not None else ""
        deny_all = [name for name, _ in acls if self._acl_denies_everyone(name)]
        if not value:
            guard = f"; the deny-all ACL {deny_all[0]} rejects every inbound connection instead" if deny_all else ""
            self.problem(where, "the ESL password is empty (HOTLINE_ESL_PASSWORD, esl.password, is not set for "
                                "FreeSWITCH): mod_event_socket would fall back to its built-in password" + guard)
        elif esl.password is None:
            self.problem(where, "FreeSWITCH has an ESL password but Hotline's HOTLINE_ESL_PASSWORD "
                                "(esl.password) is not set")
        elif value != esl.password:
            self.problem(where, "the ESL password does not match Hotline's HOTLINE_ESL_PASSWORD (esl.password)"
                         + self.pre.explain(where))

        port_param = params.get("listen-port")
        port = _atoi(port_param.get("value")) if port_param is not None else 0
        port = port or 8021                                  # mod_event_socket's default
        if port != self.esl_port:
            at = port_param.where if port_param is not None else conf.where
            self.problem(at, f"listen-port is {port} but Hotline connects to port {self.esl_port} "
                             f"({self.esl_source[1]}){self.pre.explain(at)}")

        ip_param = params.get("listen-ip")
        listen = (ip_param.get("value") if ip_param is not None else "") or "127.0.0.1"
        at = ip_param.where if ip_param is not None else conf.where
        if listen not in WILDCARD_ADDRESSES:
            if _is_loopback(listen) and not _is_loopback(self.esl_host):
                self.problem(at, f"listen-ip is {listen}, this machine only, but Hotline connects to "
                                 f"{self.esl_host} ({self.esl_source[0]}){self.pre.explain(at)}")
            elif not _is_loopback(listen) and listen != self.esl_host and (
                    _ip(self.esl_host) is not None or _is_loopback(self.esl_host)):
                self.problem(at, f"listen-ip is {listen} but Hotline connects to {self.esl_host} "
                                 f"({self.esl_source[0]}){self.pre.explain(at)}")

        if not value:
            return                                           # the guard ACL is reported above
        for name, acl_where in acls:
            client = "127.0.0.1" if _is_loopback(self.esl_host) else None
            if name in deny_all:
                self.problem(acl_where, f"apply-inbound-acl {name} rejects every connection, Hotline's too")
            elif name not in BUILTIN_ACLS and "/" not in name and self._acl_list(name) is None:
                self.problem(acl_where, f"apply-inbound-acl {name}: no such network list, so FreeSWITCH "
                                        "rejects every inbound connection")
            elif client is None and name == "loopback.auto":
                self.problem(acl_where, f"apply-inbound-acl loopback.auto admits only this machine's loopback, "
                                        f"but Hotline connects to {self.esl_host} ({self.esl_source[0]})"
                                        f"{self.pre.explain(acl_where)}")
            elif client is not None and self._acl_admits(name, client) is False:
                self.problem(acl_where, f"apply-inbound-acl {name} rejects {client}, where Hotline connects "
                                        f"from ({self.esl_source[0]}: {self.esl_host}){self.pre.explain(acl_where)}")

    def _acl_list(self, name: str) -> Node | None:
        acl = self.configs.get("acl.conf")
        lists = acl.first("network-lists") if acl else None
        return lists.first("list", name) if lists else None

    def _acl_denies_everyone(self, name: str) -> bool:
        """A network list of acl.conf that denies by default and allows no node."""
        listed = self._acl_list(name)
        return listed is not None and not _allows(listed.get("default", "allow")) and not any(
            _allows(node.get("type", "allow")) for node in listed.all("node"))

    def _acl_admits(self, name: str, client: str) -> bool | None:
        """Whether FreeSWITCH's network list `name` admits `client`; None when it cannot be known."""
        address = _ip(client)
        if address is None:
            return None
        if "/" in name and self._acl_list(name) is None:
            try:
                return any(address in ipaddress.ip_network(cidr.strip(), strict=False)
                           for cidr in name.split(","))
            except ValueError:
                return None
        listed = self._acl_list(name)
        if listed is not None:
            allowed = _allows(listed.get("default", "allow"))
            best = -1
            for node in listed.all("node"):
                if node.get("domain"):
                    return None
                cidr = node.get("cidr") or (f"{node.get('host')}/{node.get('mask')}" if node.get("host") else "")
                try:
                    network = ipaddress.ip_network(cidr, strict=False)
                except ValueError:
                    continue
                if address in network and network.prefixlen >= best:
                    best = network.prefixlen
                    allowed = _allows(node.get("type", "allow"))
            return allowed
        if name == "loopback.auto":
            return address.is_loopback
        if name == "rfc1918.auto":
            return address.version == 4 and address.is_private and not address.is_loopback
        if name == "any_v4.auto":
            return address.version == 4
        if name == "any_v6.auto":
            return address.version == 6
        return None

    # -- dialplan --------------------------------------------------------
    def _check_dialplan(self) -> None:
        for context_name, context in self.contexts.items():
            for extension in context.all("extension"):
                node_set: Node | None = None
                for condition in extension.all("condition"):
                    for action in condition.all("action") + condition.all("anti-action"):
                        app = action.get("application").lower()
                        data = action.get("data")
                        if app in ("set", "export") and data.partition("=")[0].strip() == "hotline_node":
                            node_set = action
                        elif app == "socket":
                            self._check_socket(extension, action, node_set)
                        elif app in ("transfer", "execute_extension"):
                            self._check_transfer(context_name, action, app)
                        elif app == "bridge":
                            self._check_bridge(action)

    def _check_socket(self, extension: Node, action: Node, node_set: Node | None) -> None:
        ivr = self.settings.ivr
        words = action.get("data").split()
        target = words[0] if words else ""
        host, port = _split_host_port(target)
        here = self.pre.explain(action.where)
        if ivr.socket_port == 0:
            self.problem(action.where, "Hotline's IVR listens on any free port (HOTLINE_IVR_SOCKET_PORT=0): "
                                       "the socket application needs a fixed one")
        elif port != ivr.socket_port:
            self.problem(action.where, f"socket sends calls to {target} but Hotline's IVR listens on port "
                                       f"{ivr.socket_port} (HOTLINE_IVR_SOCKET_PORT, ivr.socket_port){here}")
        listen = ivr.socket_host
        if host in WILDCARD_ADDRESSES:
            self.problem(action.where, f"socket connects to {host or 'no host'}: give FreeSWITCH the IVR's real "
                                       f"address (HOTLINE_FS_IVR_ADDRESS){here}")
        elif listen not in WILDCARD_ADDRESSES and host != listen and (
                _is_loopback(host) != _is_loopback(listen)
                or (_ip(host) is not None and _ip(listen) is not None)):
            self.problem(action.where, f"socket sends calls to {host} but Hotline's IVR listens on {listen} "
                                       f"(HOTLINE_IVR_SOCKET_HOST, ivr.socket_host){here}")
        flags = {w.lower() for w in words[1:]}
        if not {"async", "full"} <= flags:
            self.problem(action.where, f"socket {target} without 'async full': Hotline's IVR drives calls "
                                       "in that mode (as recorded from FreeSWITCH 1.10)")
        name = extension.get("name")
        if node_set is None:
            self.problem(action.where, f'extension "{name}" hands the call to the IVR without setting '
                                       "hotline_node first: Hotline cannot tell which FreeSWITCH node it is on")
        else:
            value = node_set.get("data").partition("=")[2].strip()
            if value != self.node_id:
                self.problem(node_set.where, f"hotline_node is {value or 'empty'} but Hotline calls this node "
                                             f"{self.node_id} ({self.esl_source[2]})"
                                             f"{self.pre.explain(node_set.where)}")

    def _check_transfer(self, context_name: str, action: Node, app: str) -> None:
        words = action.get("data").split()
        if app == "transfer" and words and words[0].lower() in ("-bleg", "-both"):
            words = words[1:]
        if not words:
            self.problem(action.where, f"{app} has no destination")
            return
        destination = words[0]
        dialplan = words[1] if len(words) > 1 else "XML"
        context = words[2] if len(words) > 2 else context_name
        if dialplan.upper() != "XML" or "$" in destination or "$" in context:
            return
        self._check_extension(action.where, f"{app} {destination} XML {context}", destination, context)

    def _check_extension(self, where: Where, what: str, destination: str, context: str) -> None:
        found = self.contexts.get(context.lower())
        if found is None:
            self.problem(where, f"{what}: there is no dialplan context {context}")
        elif not any(self._may_match(extension, destination) for extension in found.all("extension")):
            self.problem(where, f"{what}: no extension in context {context} matches {destination}")

    @staticmethod
    def _may_match(extension: Node, destination: str) -> bool:
        """Whether the extension can take `destination`: its destination_number
        tests match it. Tests of other fields are taken as passing, and so is a
        pattern Python's re cannot read (PCRE has a few more constructs)."""

        def matches(test: Node) -> bool:
            try:
                return re.search(test.get("expression"), destination) is not None
            except re.error:
                return True

        tested = False
        for condition in extension.all("condition"):
            if condition.get("field") == "destination_number":
                tested = True
                if not matches(condition):
                    return False
            regexes = condition.all("regex")
            numbers = [r for r in regexes if r.get("field") == "destination_number"]
            if not numbers:
                continue
            tested = True
            mode = condition.get("regex", "all").lower()
            if mode == "all" and not all(matches(r) for r in numbers):
                return False
            if mode == "any" and len(numbers) == len(regexes) and not any(matches(r) for r in numbers):
                return False
        return tested or extension.get("continue").lower() != "true"

    def _check_bridge(self, action: Node) -> None:
        data = action.get("data")
        if data.startswith("{"):
            end = _find_end_paren(data, 0)
            data = data[end + 1:] if end is not None else data
        for endpoint in re.split(r"[,|]", data):
            endpoint = re.sub(r"^\[[^\]]*\]", "", endpoint.strip())
            kind, _, rest = endpoint.partition("/")
            if not rest or "$" in rest and kind.lower() != "user":
                continue
            kind = kind.lower()
            if kind == "user":
                self._check_user_endpoint(action.where, f"bridge {endpoint}", rest)
            elif kind == "loopback":
                parts = rest.split("/")
                destination = parts[0]
                context = parts[1] if len(parts) > 1 else "default"
                if "$" not in destination + context:
                    self._check_extension(action.where, f"bridge {endpoint}", destination, context)
            elif kind == "sofia":
                profile, _, more = rest.partition("/")
                if profile.lower() == "gateway":
                    gateway = more.partition("/")[0]
                    blocks = [p.first("gateways") for p in self.profiles.values()]
                    if not any(b is not None and b.first("gateway", gateway) for b in blocks):
                        self.problem(action.where, f"bridge {endpoint}: no SIP profile has a gateway {gateway}")
                elif profile.lower() not in self.profiles and not self._profile_alias(profile):
                    self.problem(action.where, f"bridge {endpoint}: there is no SIP profile {profile}")

    def _profile_alias(self, name: str) -> bool:
        for profile in self.profiles.values():
            aliases = profile.first("aliases")
            if aliases and aliases.first("alias", name):
                return True
            domains = profile.first("domains")
            if domains and any(d.get("alias").lower() == "true" for d in domains.all("domain")) \
                    and name.lower() in self.domains:
                return True
        return False

    def _check_user_endpoint(self, where: Where, what: str, rest: str) -> None:
        user, at, domain = rest.partition("@")
        if not at:
            domain = self.pre.value("domain") or ""
        if "$" in domain or not domain:
            return
        found = self.domains.get(domain.lower())
        if found is None:
            self.problem(where, f"{what}: the directory has no domain {domain}")
        elif "$" not in user and user not in self._users(found):
            self.problem(where, f"{what}: the directory's domain {domain} has no user {user}")

    # -- directory -------------------------------------------------------
    @staticmethod
    def _users(domain: Node) -> dict[str, tuple[Node, Node | None]]:
        """user id -> (user, its group), pointers excluded."""
        users: dict[str, tuple[Node, Node | None]] = {}
        places: list[tuple[Node, Node | None]] = [(domain, None)]
        direct = domain.first("users")
        if direct:
            places.append((direct, None))
        groups = domain.first("groups")
        for group in groups.all("group") if groups else []:
            block = group.first("users")
            if block:
                places.append((block, group))
        for place, group in places:
            for user in place.all("user"):
                if user.get("type").lower() != "pointer":
                    users.setdefault(user.get("id"), (user, group))
        return users

    def _check_directory(self) -> None:
        for domain_name, domain in self.domains.items():
            for user_id, (user, group) in self._users(domain).items():
                password, a1_hash, forbidden = "", "", False   # sofia_reg_parse_auth(): domain, group, user
                for params in (self._params(domain, "params"), self._params(group, "params"),
                               self._params(user, "params")):
                    if "password" in params:
                        password = params["password"].get("value")
                    if "a1-hash" in params:
                        a1_hash = params["a1-hash"].get("value")
                    forbid = params.get("sip-forbid-register")
                    if forbid is not None and forbid.get("value").lower() in ("true", "yes", "on", "1"):
                        forbidden = True
                if not password and not a1_hash and not forbidden:
                    self.problem(user.where, f"user {user_id}@{domain_name} has no password: mod_sofia lets "
                                             "anyone register and call as this user")
        for item in filter(None, (p.strip() for p in self.settings.routing.agents.split(","))):
            parts = item.split(":")
            if len(parts) >= 2 and parts[1].startswith("user/"):
                self._check_user_endpoint(Where(self.conf_dir / "directory"),
                                          f"agent {parts[0]} (HOTLINE_ROUTING_AGENTS) {parts[1]}", parts[1][5:])

    # -- SIP profiles ----------------------------------------------------
    def _check_profiles(self) -> None:
        ports: dict[tuple[str, int], str] = {}
        for name, profile in self.profiles.items():
            params = self._params(profile)
            context = params.get("context")
            dialplan = params.get("dialplan")
            if context is not None and (dialplan is None or "XML" in dialplan.get("value").upper()) \
                    and context.get("value").lower() not in self.contexts:
                self.problem(context.where, f"SIP profile {name} sends calls to context {context.get('value')}, "
                                            "which the dialplan does not have")
            domain = params.get("force-register-domain")
            if domain is not None and domain.get("value").lower() not in self.domains:
                self.problem(domain.where, f"SIP profile {name} authenticates phones in domain "
                                           f"{domain.get('value')}, which the directory does not have")
            port_param = params.get("sip-port")
            ip_param = params.get("sip-ip")
            key = (ip_param.get("value") if ip_param is not None else "", _atoi(port_param.get("value"))
                   if port_param is not None else 5060)
            if key in ports:
                self.problem(profile.where, f"SIP profiles {ports[key]} and {name} both use {key[0]}:{key[1]}")
            ports[key] = name

    # -- recordings and hold music ---------------------------------------
    def _check_recordings(self) -> None:
        found = self.pre.variables.get("recordings_dir")
        wanted = self.settings.recording.directory
        if found is None or os.path.normpath(found.value) != os.path.normpath(wanted):
            where = found.where if found is not None and found.where else Where(self.conf_dir / "vars.xml")
            source = f" from {found.env}" if found is not None and found.env else ""
            self.problem(where, f"recordings_dir is {found.value if found else 'not set'}{source} but Hotline "
                                f"records under {wanted} (HOTLINE_RECORDING_DIRECTORY, recording.directory)")

    def _check_hold_music(self) -> None:
        music = self.settings.routing.hold_music
        if not music.startswith("local_stream://"):
            return
        name = music[len("local_stream://"):]
        streams = self.configs.get("local_stream.conf")
        if streams is None:
            self.problem(Where(self.conf_dir / "autoload_configs"), f"the hold music {music} "
                         "(HOTLINE_ROUTING_HOLD_MUSIC) needs a local_stream.conf, and there is none")
            return
        names = [d.get("name") for d in streams.all("directory")]
        if not any(n == name or re.fullmatch(re.escape(name) + r"/\d+", n) for n in names):
            self.problem(streams.where, f"local_stream.conf has no stream {name} (nor {name}/RATE) for the hold "
                                        f"music {music} (HOTLINE_ROUTING_HOLD_MUSIC, routing.hold_music)")


def check_tree(conf_dir: str | os.PathLike[str], env: Mapping[str, str] | None = None,
               settings: settings_mod.Settings | None = None) -> list[Problem]:
    """Check the FreeSWITCH tree at conf_dir, preprocessed with `env` (the
    FreeSWITCH process's environment; default os.environ), against Hotline's
    settings (default: loaded from the same environment). Raises ConfigError
    when those settings are invalid."""
    env = os.environ if env is None else env
    settings = settings_mod.load(env) if settings is None else settings
    display = pathlib.Path(conf_dir)
    return Checker(display.resolve(), display, env, settings).run()


def report(problems: list[Problem], conf_dir: str, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    """Print the problems one per line; the exit status: 0 fine, 2 problems."""
    if not problems:
        print(f"{conf_dir}: FreeSWITCH configuration matches Hotline's settings", file=out)
        return 0
    for found in problems:
        print(found, file=err)
    print(f"{len(problems)} problem{'s' if len(problems) != 1 else ''} in {conf_dir}", file=err)
    return 2
