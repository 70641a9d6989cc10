"""The FreeSWITCH configuration tree in freeswitch/conf, checked the way
FreeSWITCH 1.10 reads it (hotline.freeswitch.confcheck, which emulates the
preprocessor of src/switch_xml.c) and against Hotline's settings.

FreeSWITCH cannot run here: these tests are what stands between the tree and
a FreeSWITCH that would refuse it, or run with a usable default password."""
from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from hotline.common import settings as settings_mod
from hotline.freeswitch import confcheck

ROOT = pathlib.Path(__file__).resolve().parents[2]
CONF = ROOT / "freeswitch" / "conf"

# The secrets have no default anywhere: the one environment both FreeSWITCH and Hotline read.
ENV = {
    "HOTLINE_ESL_PASSWORD": "Esl-Secret_1",
    "HOTLINE_FS_AGENT_SIP_PASSWORD": "agent-Secret_2",
    "HOTLINE_FS_SUPERVISOR_SIP_PASSWORD": "supervisor-Secret_3",
}


def check(conf: pathlib.Path = CONF, fs_env: dict[str, str] | None = None,
          hotline_env: dict[str, str] | None = None) -> list[str]:
    """Problems of the tree preprocessed with fs_env, against the settings
    Hotline loads from hotline_env (by default the same environment)."""
    fs_env = ENV if fs_env is None else fs_env
    settings = settings_mod.load(fs_env if hotline_env is None else hotline_env)
    return [str(p) for p in confcheck.check_tree(conf, fs_env, settings)]


def line_of(path: pathlib.Path, text: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), 1) if text in line)


def preprocessed(conf: pathlib.Path, env: dict[str, str]) -> confcheck.Node:
    pre = confcheck.Preprocessor(conf.resolve(), env)
    pre.run(conf.resolve() / "freeswitch.xml")
    root, error = confcheck.parse_document(*pre.document())
    assert error is None and root is not None
    return root


@pytest.fixture
def tree(tmp_path: pathlib.Path) -> pathlib.Path:
    """A copy of freeswitch/conf to break."""
    shutil.copytree(CONF, tmp_path / "conf")
    return tmp_path / "conf"


# -- the shipped tree ----------------------------------------------------
def test_every_xml_file_under_freeswitch_parses():
    files = sorted((ROOT / "freeswitch").rglob("*.xml"))
    assert len(files) >= 20
    for path in files:
        ET.parse(path)                                   # each file is a real XML document
        assert confcheck.fragment_problem(path) is None, path


def test_the_tree_matches_hotline_with_defaults_and_secrets():
    assert check() == []


def test_the_tree_matches_hotline_when_every_value_comes_from_the_environment():
    env = {**ENV,
           "HOTLINE_ESL_HOST": "10.0.0.7", "HOTLINE_ESL_PORT": "8022", "HOTLINE_ESL_NODE_ID": "fs7",
           "HOTLINE_FS_ESL_LISTEN_IP": "0.0.0.0", "HOTLINE_FS_ESL_ACL": "10.0.0.0/8",
           "HOTLINE_IVR_SOCKET_HOST": "10.0.0.8", "HOTLINE_IVR_SOCKET_PORT": "9191",
           "HOTLINE_RECORDING_DIRECTORY": "/srv/hotline/recordings",
           "HOTLINE_FS_DOMAIN": "pbx.example", "HOTLINE_FS_INTERNAL_SIP_PORT": "5070",
           "HOTLINE_ROUTING_AGENTS": "1001:user/1001@pbx.example:sales=5,1900:user/1900@pbx.example:support=1"}
    assert check(fs_env=env) == []
    root = preprocessed(CONF, env)
    socket = next(a for a in root.iter("action") if a.get("application") == "socket")
    assert socket.get("data") == "10.0.0.8:9191 async full"
    node = next(a for a in root.iter("action") if a.get("data").startswith("hotline_node="))
    assert node.get("data") == "hotline_node=fs7"


def test_the_modules_hotline_asked_for_load_in_vanilla_order():
    root = preprocessed(CONF, ENV)
    modules = [m.get("module") for m in root.iter("load")]
    assert modules == ["mod_console", "mod_logfile", "mod_event_socket", "mod_sofia", "mod_loopback",
                       "mod_commands", "mod_dptools", "mod_dialplan_xml", "mod_sndfile", "mod_native_file",
                       "mod_local_stream", "mod_tone_stream", "mod_flite", "mod_say_en"]


def test_the_socket_is_preceded_by_hotline_node():
    root = preprocessed(CONF, {**ENV, "HOTLINE_ESL_NODE_ID": "fs3"})
    public = next(c for c in root.iter("context") if c.get("name") == "public")
    actions = [(a.get("application"), a.get("data")) for a in public.iter("action")]
    assert actions.index(("set", "hotline_node=fs3")) < actions.index(("socket", "127.0.0.1:9090 async full"))


# -- secrets: no usable default ------------------------------------------
def esl_settings(root: confcheck.Node) -> dict[str, list[str]]:
    conf = next(c for c in root.iter("configuration") if c.get("name") == "event_socket.conf")
    params: dict[str, list[str]] = {}
    for p in conf.iter("param"):
        params.setdefault(p.get("name"), []).append(p.get("value"))
    return params


@pytest.mark.parametrize("password", [None, ""])
def test_without_the_esl_password_freeswitch_refuses_every_inbound_connection(password):
    env = {k: v for k, v in ENV.items() if k != "HOTLINE_ESL_PASSWORD"}
    if password is not None:
        env["HOTLINE_ESL_PASSWORD"] = password
    root = preprocessed(CONF, env)
    params = esl_settings(root)
    # mod_event_socket replaces an empty password by its built-in one...
    assert params["password"] == [""]
    # ...but the guard ACL, a list with no node and default deny, is applied to every connection.
    assert params["apply-inbound-acl"] == ["loopback.auto", "hotline_esl_password_not_set"]
    guard = next(x for x in root.iter("list") if x.get("name") == "hotline_esl_password_not_set")
    assert guard.get("default") == "deny" and not guard.children


def test_with_the_esl_password_no_guard_acl_applies():
    params = esl_settings(preprocessed(CONF, ENV))
    assert params["password"] == [ENV["HOTLINE_ESL_PASSWORD"]]
    assert params["apply-inbound-acl"] == ["loopback.auto", ""]       # an empty one is skipped


def test_a_missing_esl_password_is_reported_at_vars_and_event_socket():
    env = {k: v for k, v in ENV.items() if k != "HOTLINE_ESL_PASSWORD"}
    problems = check(fs_env=env)
    vars_line = line_of(CONF / "vars.xml", "$HOTLINE_ESL_PASSWORD")
    esl_line = line_of(CONF / "autoload_configs" / "event_socket.conf.xml", 'name="password"')
    assert any(p.startswith(f"{CONF}/vars.xml:{vars_line}: HOTLINE_ESL_PASSWORD is not set") for p in problems)
    assert any(p.startswith(f"{CONF}/autoload_configs/event_socket.conf.xml:{esl_line}: the ESL password is empty")
               and "HOTLINE_ESL_PASSWORD" in p and "hotline_esl_password_not_set" in p for p in problems)


def test_an_esl_password_that_differs_from_hotlines_is_reported_without_showing_it():
    problems = check(hotline_env={**ENV, "HOTLINE_ESL_PASSWORD": "another-one"})
    assert len(problems) == 1
    assert "event_socket.conf.xml" in problems[0] and "HOTLINE_ESL_PASSWORD" in problems[0]
    assert "another-one" not in problems[0] and ENV["HOTLINE_ESL_PASSWORD"] not in problems[0]


def test_a_password_freeswitch_xml_cannot_carry_is_reported():
    problems = check(fs_env={**ENV, "HOTLINE_ESL_PASSWORD": 'a"b'})
    assert any("vars.xml" in p and 'HOTLINE_ESL_PASSWORD holds "' in p for p in problems)
    assert any("event_socket.conf.xml" in p and "not well-formed XML" in p for p in problems)


@pytest.mark.parametrize("group, variable", [("agents", "HOTLINE_FS_AGENT_SIP_PASSWORD"),
                                             ("supervisors", "HOTLINE_FS_SUPERVISOR_SIP_PASSWORD")])
def test_without_a_sip_password_the_phones_are_forbidden_to_register(group, variable):
    env = {k: v for k, v in ENV.items() if k != variable}
    root = preprocessed(CONF, env)
    found = next(g for g in root.iter("group") if g.get("name") == group)
    params = {p.get("name"): p.get("value") for p in found.iter("param")}
    assert params == {"password": "", "sip-forbid-register": "true"}
    assert any(variable in p and "vars.xml" in p for p in check(fs_env=env))
    other = next(g for g in root.iter("group") if g.get("name") != group)
    assert {p.get("name"): p.get("value") for p in other.iter("param")}["sip-forbid-register"] == ""


def test_a_user_without_any_password_is_reported(tree):
    path = tree / "directory" / "default" / "agents.xml"
    path.write_text(path.read_text().replace('      <param name="sip-forbid-register"', '      <param name="x"')
                    .replace("$${hotline_agent_sip_password}", ""))
    problems = check(tree)
    assert any("agents.xml" in p and "user 1000@default has no password" in p for p in problems)


# -- the bad inputs the issue names --------------------------------------
def test_a_mismatched_ivr_port_names_the_dialplan_file_and_the_setting():
    problems = check(hotline_env={**ENV, "HOTLINE_IVR_SOCKET_PORT": "9091"})
    # Both sockets to the IVR: the service number, and the queues' overflow back to an IVR flow.
    expected = []
    for path in (CONF / "dialplan" / "hotline-overflow.xml", CONF / "dialplan" / "public" / "00_hotline.xml"):
        line = line_of(path, 'application="socket"')
        expected.append(f"{path}:{line}: socket sends calls to 127.0.0.1:9090 "
                        "but Hotline's IVR listens on port 9091 (HOTLINE_IVR_SOCKET_PORT, ivr.socket_port)")
    assert problems == expected


def test_a_socket_pointing_elsewhere_names_the_file_and_the_setting():
    problems = check(fs_env={**ENV, "HOTLINE_FS_IVR_ADDRESS": "10.9.9.9:9090"})
    assert len(problems) == 2 and "hotline-overflow.xml" in problems[0]
    assert "00_hotline.xml" in problems[1] and "10.9.9.9" in problems[1]
    assert "HOTLINE_IVR_SOCKET_HOST" in problems[0] and "HOTLINE_FS_IVR_ADDRESS" in problems[0]


def test_a_literal_socket_address_elsewhere_is_reported(tree):
    path = tree / "dialplan" / "public" / "00_hotline.xml"
    path.write_text(path.read_text().replace("$${hotline_ivr_address} async full", "192.0.2.50:9090 async full"))
    problems = check(tree)
    assert len(problems) == 1 and "00_hotline.xml" in problems[0] and "HOTLINE_IVR_SOCKET_HOST" in problems[0]


def test_an_ivr_listening_on_every_address_is_fine_but_freeswitch_must_not_dial_a_wildcard():
    env = {**ENV, "HOTLINE_IVR_SOCKET_HOST": "0.0.0.0"}
    problems = check(fs_env=env)
    assert len(problems) == 2     # the service number's socket and the overflow context's
    assert all("socket connects to 0.0.0.0" in p and "HOTLINE_FS_IVR_ADDRESS" in p for p in problems)
    assert check(fs_env={**env, "HOTLINE_FS_IVR_ADDRESS": "10.0.0.8:9090"}) == []


def test_malformed_xml_names_the_file_and_line(tree):
    path = tree / "dialplan" / "public" / "00_hotline.xml"
    text = path.read_text().replace("</condition>", "")
    path.write_text(text)
    problems = check(tree)
    assert problems and all("00_hotline.xml" in p for p in problems)
    assert "not well-formed XML: mismatched tag" in problems[0]
    assert problems[0].startswith(f"{tree}/dialplan/public/00_hotline.xml:{line_of(path, '</extension>')}:")


def test_a_malformed_file_nothing_includes_is_reported_too(tree):
    (tree / "stray.xml").write_text("<include>\n  <oops>\n</include>\n")
    problems = check(tree)
    assert problems == [f"{tree}/stray.xml:2: not well-formed XML: mismatched tag (<oops> of line 2 is not closed)"]


def test_a_transfer_to_a_missing_extension_names_the_file_and_the_target(tree):
    path = tree / "dialplan" / "default.xml"
    path.write_text(path.read_text().replace('data="5000 XML public"', 'data="5001 XML public"'))
    problems = check(tree)
    line = line_of(path, "5001 XML public")
    assert problems == [f"{tree}/dialplan/default.xml:{line}: transfer 5001 XML public: "
                        "no extension in context public matches 5001"]


def test_a_transfer_to_a_missing_context_is_reported(tree):
    path = tree / "dialplan" / "default.xml"
    path.write_text(path.read_text().replace('data="5000 XML public"', 'data="5000 XML nowhere"'))
    assert any("there is no dialplan context nowhere" in p for p in check(tree))


def test_bridge_and_execute_extension_targets_are_checked(tree):
    path = tree / "dialplan" / "default.xml"
    path.write_text(path.read_text().replace(
        '<action application="echo"/>',
        '<action application="echo"/>\n'
        '        <action application="bridge" data="{ignore_early_media=true}user/1234@default,loopback/5000/public"/>\n'
        '        <action application="bridge" data="sofia/gateway/provider/15551234567"/>\n'
        '        <action application="execute_extension" data="9196 XML default"/>\n'
        '        <action application="bridge" data="user/1001@elsewhere"/>'))
    problems = check(tree)
    assert [p.split(": ", 1)[1] for p in problems] == [
        "bridge user/1234@default: the directory's domain default has no user 1234",
        "bridge sofia/gateway/provider/15551234567: no SIP profile has a gateway provider",
        "bridge user/1001@elsewhere: the directory has no domain elsewhere",
    ]


# -- the other comparisons with Hotline's settings -----------------------
def test_esl_port_listen_address_and_acl_follow_hotlines_settings():
    problems = check(hotline_env={**ENV, "HOTLINE_ESL_PORT": "8022"})
    assert len(problems) == 1 and "listen-port is 8021" in problems[0] and "HOTLINE_ESL_PORT" in problems[0]
    problems = check(hotline_env={**ENV, "HOTLINE_ESL_HOST": "10.0.0.5"})
    assert [p.split(": ", 1)[1].split(",")[0] for p in problems] == [
        "listen-ip is 127.0.0.1", "apply-inbound-acl loopback.auto admits only this machine's loopback"]
    env = {**ENV, "HOTLINE_ESL_HOST": "10.0.0.5", "HOTLINE_FS_ESL_LISTEN_IP": "0.0.0.0",
           "HOTLINE_FS_ESL_ACL": "192.168.0.0/16"}
    assert check(fs_env=env) == []         # the client's address is unknown: a CIDR is not second-guessed
    problems = check(fs_env={**ENV, "HOTLINE_FS_ESL_ACL": "192.168.0.0/16"})
    assert len(problems) == 1 and "rejects 127.0.0.1" in problems[0]
    problems = check(fs_env={**ENV, "HOTLINE_FS_ESL_ACL": "no_such_list"})
    assert len(problems) == 1 and "no such network list" in problems[0]


def test_node_id_recordings_and_hold_music_follow_hotlines_settings():
    problems = check(fs_env={**ENV, "HOTLINE_ESL_NODE_ID": "fs2"}, hotline_env=ENV)
    assert len(problems) == 2 and "hotline-overflow.xml" in problems[0] and "00_hotline.xml" in problems[1]
    assert all("hotline_node is fs2 but Hotline calls this node fs1 (HOTLINE_ESL_NODE_ID, esl.node_id)" in p
               for p in problems)
    problems = check(hotline_env={**ENV, "HOTLINE_RECORDING_DIRECTORY": "/srv/rec"})
    assert len(problems) == 1 and "vars.xml" in problems[0] and "HOTLINE_RECORDING_DIRECTORY" in problems[0]
    problems = check(hotline_env={**ENV, "HOTLINE_ROUTING_HOLD_MUSIC": "local_stream://jazz"})
    assert len(problems) == 1 and "local_stream.conf.xml" in problems[0] and "no stream jazz" in problems[0]
    assert check(hotline_env={**ENV, "HOTLINE_ROUTING_HOLD_MUSIC": "local_stream://default"}) == []


def test_a_socket_extension_without_hotline_node_is_reported(tree):
    path = tree / "dialplan" / "public" / "00_hotline.xml"
    path.write_text(path.read_text().replace('<action application="set" data="hotline_node=$${hotline_node_id}"/>', ""))
    problems = check(tree)
    assert len(problems) == 1 and "without setting hotline_node" in problems[0]


def test_agent_contacts_must_name_directory_users():
    problems = check(hotline_env={**ENV, "HOTLINE_ROUTING_AGENTS": "7:user/2001@default:sales=5"})
    assert len(problems) == 1
    assert "agent 7 (HOTLINE_ROUTING_AGENTS) user/2001@default: the directory's domain default has no user 2001" \
        in problems[0]


def test_a_module_without_its_configuration_is_reported(tree):
    (tree / "autoload_configs" / "sofia.conf.xml").unlink()
    problems = check(tree)
    line = line_of(tree / "autoload_configs" / "modules.conf.xml", '"mod_sofia"')
    assert f"{tree}/autoload_configs/modules.conf.xml:{line}: mod_sofia is loaded but there is no sofia.conf " \
           "configuration (autoload_configs/sofia.conf.xml): there is no SIP profile" in problems


def test_a_module_hotline_needs_is_reported_when_missing(tree):
    path = tree / "autoload_configs" / "modules.conf.xml"
    path.write_text(path.read_text().replace('<load module="mod_event_socket"/>', ""))
    problems = check(tree)
    assert len(problems) == 1 and "mod_event_socket is not loaded" in problems[0]


def test_an_include_that_matches_nothing_is_reported(tree):
    (tree / "sip_profiles" / "external" / "example_trunk.xml").unlink()
    line = line_of(tree / "sip_profiles" / "external.xml", 'data="external/*.xml"')
    assert check(tree) == [f'{tree}/sip_profiles/external.xml:{line}: include "external/*.xml" matches no file']


def test_an_undefined_variable_is_reported(tree):
    path = tree / "autoload_configs" / "switch.conf.xml"
    path.write_text(path.read_text().replace('value="1000"', 'value="$${max_sessions}"'))
    line = line_of(path, "max_sessions")
    assert check(tree) == [f"{tree}/autoload_configs/switch.conf.xml:{line}: $${{max_sessions}} is not defined: "
                           "FreeSWITCH puts an empty string there"]


# -- the preprocessor, as src/switch_xml.c does it ------------------------
def run(tmp_path: pathlib.Path, files: dict[str, str], env: dict[str, str] | None = None) -> confcheck.Preprocessor:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    pre = confcheck.Preprocessor(tmp_path, env or {})
    pre.run(tmp_path / "freeswitch.xml")
    return pre


def test_env_set_copies_only_a_variable_that_exists(tmp_path):
    pre = run(tmp_path, {"freeswitch.xml": (
        '<X-PRE-PROCESS cmd="set" data="a=default"/>\n'
        '<X-PRE-PROCESS cmd="env-set" data="a=$A"/>\n'
        '<X-PRE-PROCESS cmd="set" data="b=default"/>\n'
        '<X-PRE-PROCESS cmd="env-set" data="b=$B"/>\n'
        '<X-PRE-PROCESS cmd="env-set" data="c=C"/>\n'             # no $: nothing happens
        '<X-PRE-PROCESS cmd="env-set" data="d=$D"/>\n'
        '<x a="$${a}" b="$${b}" c="$${c}" d="$${d}"/>\n')}, env={"A": "from-env", "C": "x"})
    assert pre.value("a") == "from-env" and pre.value("b") == "default"
    assert pre.value("c") is None and pre.value("d") is None
    assert pre.unset_env["d"][0] == "D"
    assert pre.document()[0] == '<x a="from-env" b="default" c="" d=""/>\n'
    assert [name for name, _ in pre.undefined] == ["c", "d"]


def test_set_trims_spaces_around_the_equals_sign_and_disarms_channel_variables(tmp_path):
    pre = run(tmp_path, {"freeswitch.xml": '<X-PRE-PROCESS cmd="SET" data="name  =   value ${x}"/>\n'})
    assert pre.value("name") == "value %{x}"


def test_directive_and_include_lines_are_dropped_whole(tmp_path):
    pre = run(tmp_path, {"freeswitch.xml": (
        '<document><include>dropped</include>\n'
        'kept <X-PRE-PROCESS cmd="set" data="v=1"/> gone too\n'
        '<!-- a remark about X-PRE-PROCESS vanishes with its line -->\n'
        '<?xml version="1.0"?>\n'
        '<a v="$${v}"/>\n'
        '</document>\n')})
    assert pre.document()[0] == '<a v="1"/>\n</document>\n'


def test_includes_are_globs_relative_to_the_including_file_in_order(tmp_path):
    pre = run(tmp_path, {
        "freeswitch.xml": '<d>\n<X-PRE-PROCESS cmd="include" data="sub/*.xml"/>\n'
                          '<X-PRE-PROCESS cmd="include" data="none/*.xml"/>\n</d>\n',
        "sub/b.xml": '<b/>\n', "sub/a.xml": '<a/>\n<X-PRE-PROCESS cmd="include" data="deeper/*.xml"/>\n',
        "sub/deeper/c.xml": '<c/>\n'})
    text, origins = pre.document()
    assert text == "<d>\n<a/>\n<c/>\n<b/>\n</d>\n"
    assert [(w.path.name, w.line) for w in origins] == [("freeswitch.xml", 1), ("a.xml", 1), ("c.xml", 1),
                                                          ("b.xml", 1), ("freeswitch.xml", 4)]
    assert [message for _, message in pre.problems] == ['include "none/*.xml" matches no file']


def test_hash_comment_directives(tmp_path):
    pre = run(tmp_path, {"freeswitch.xml": (
        '<d><!--#set "x=1"--><y/>\n'
        '<!--#comment\n'
        '  a multi-line comment the XML parser never sees\n'
        '--><z x="$${x}"/>\n'
        '</d>\n')})
    assert pre.document()[0] == '<d><y/>\n<z x="$${x}"/>\n</d>\n'      # after -->, the unexpanded rest


# -- the command line ----------------------------------------------------
def run_cli(env: dict[str, str], conf: pathlib.Path = CONF) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    return subprocess.run([sys.executable, "-m", "hotline.cli", "freeswitch-check", "--conf", str(conf)],
                          env={**clean, **env}, capture_output=True, text=True, timeout=120)


def test_cli_exits_0_when_the_tree_matches():
    done = run_cli(ENV)
    assert done.returncode == 0, done.stderr
    assert "matches Hotline's settings" in done.stdout


def test_cli_exits_2_with_one_line_per_problem():
    done = run_cli({**ENV, "HOTLINE_IVR_SOCKET_PORT": "9092", "HOTLINE_FS_IVR_ADDRESS": "127.0.0.1:9090"})
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert lines[-1] == f"2 problems in {CONF}"
    assert lines[0].startswith(f"{CONF}/dialplan/hotline-overflow.xml:") and "HOTLINE_IVR_SOCKET_PORT" in lines[0]
    assert lines[1].startswith(f"{CONF}/dialplan/public/00_hotline.xml:") and "HOTLINE_IVR_SOCKET_PORT" in lines[1]


def test_with_several_nodes_the_tree_is_checked_against_its_own_node():
    """HOTLINE_ESL_NODES: the tree's hotline_node_id picks the node whose
    port event_socket must match."""
    fs_env = {**ENV, "HOTLINE_ESL_NODE_ID": "fs2", "HOTLINE_ESL_PORT": "8022"}
    assert check(fs_env=fs_env, hotline_env={**ENV, "HOTLINE_ESL_NODES": "fs1=127.0.0.1:8021,fs2=127.0.0.1:8022"}) == []
    problems = check(fs_env=fs_env, hotline_env={**ENV, "HOTLINE_ESL_NODES": "fs1=127.0.0.1:8021,fs2=127.0.0.1:9000"})
    assert any("listen-port is 8022" in p and "9000" in p and "HOTLINE_ESL_NODES" in p for p in problems), problems
    problems = check(fs_env={**fs_env, "HOTLINE_ESL_NODE_ID": "fs7"},
                     hotline_env={**ENV, "HOTLINE_ESL_NODES": "fs1=127.0.0.1:8021,fs2=127.0.0.1:8022"})
    assert any("hotline_node_id is fs7" in p and "HOTLINE_ESL_NODES" in p for p in problems), problems
