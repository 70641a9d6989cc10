"""`hotline bench routing` runs and prints its figures (no timing asserted)."""
from hotline.routing import bench


def test_routing_bench_prints_its_figures(capsys):
    assert bench.main(["--decisions", "300", "--agents", "300", "--queues", "12", "--skills", "6"]) == 0
    out = capsys.readouterr().out
    for figure in ("decisions per CPU second", "decisions/s", "cycles/s", "p50", "p99", "nobody was eligible"):
        assert figure in out
    result = bench.run(decisions=200, agents=200, queues=10, skills=5)
    assert result["decisions"] == 200 and result["p50_ms"] <= result["p99_ms"]
    assert 0 <= result["cpu_p50_ms"] <= result["cpu_p99_ms"] and result["decisions_per_cpu_s"] > 0


def test_bench_subcommand_runs_both_benchmarks(capsys):
    from hotline import cli

    assert cli.main(["bench", "routing", "--decisions", "100", "--agents", "100", "--queues", "5",
                     "--skills", "4"]) == 0
    assert "decisions/s" in capsys.readouterr().out
