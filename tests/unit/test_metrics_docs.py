"""Docs stay current: every Prometheus metric Hotline's code defines is in
docs/dashboards.md's metrics table with its type and labels, and the table
lists no metric the code does not define."""
import pathlib
import re

from hotline.common.metrics import hotline_metrics

DOC = pathlib.Path(__file__).resolve().parents[2] / "docs" / "dashboards.md"
ROW = re.compile(r"^\| `(hotline_\w+)` \| (\w+) \|([^|]*)\|", re.M)


def documented() -> dict[str, tuple[str, tuple[str, ...]]]:
    return {name: (kind, tuple(label.strip() for label in labels.split(",") if label.strip()))
            for name, kind, labels in ROW.findall(DOC.read_text())}


def test_every_metric_is_documented_with_its_type_and_labels():
    docs = documented()
    code = {name: (m.kind, m.labels) for name, m in hotline_metrics().items()}
    missing = sorted(set(code) - set(docs))
    assert not missing, f"add to docs/dashboards.md's metrics table: {missing}"
    wrong = {name: (docs[name], code[name]) for name in code if docs[name] != code[name]}
    assert not wrong, f"type/labels differ from the code (docs, code): {wrong}"
    stale = sorted(set(docs) - set(code))
    assert not stale, f"docs/dashboards.md lists metrics the code does not define: {stale}"


def test_metric_names_follow_the_convention():
    for name, m in hotline_metrics().items():
        assert re.fullmatch(r"hotline_[a-z]+_[a-z0-9_]+", name), name
        assert m.documentation, f"{name} has no help text"
        assert (m.kind == "counter") == name.endswith("_total"), name
        assert not {"call_uuid", "call_id", "agent_id", "ani"} & set(m.labels), f"{name}: unbounded label"
