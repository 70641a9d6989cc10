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


def test_the_bench_runs_with_the_service_collector_thresholds_and_puts_them_back(monkeypatch):
    import gc

    from hotline.common import runtime

    seen = []
    real_decide = bench._decide
    monkeypatch.setattr(bench, "_decide", lambda *a: seen.append(gc.get_threshold()) or real_decide(*a))
    before = gc.get_threshold()
    bench.run(decisions=50, agents=50, queues=5, skills=4)
    assert seen == [runtime.SERVICE_GC_THRESHOLDS]
    assert gc.get_threshold() == before


def test_the_bench_with_calls_waiting_prints_the_backlog_storm_and_idle_tick_figures(capsys):
    assert bench.main(["--decisions", "200", "--agents", "200", "--queues", "10", "--skills", "5",
                       "--waiting", "300", "--storm-decisions", "100"]) == 0
    out = capsys.readouterr().out
    for figure in ("300 calls waiting that nobody may take", "agents free but none eligible", "no agent free",
                   "storm:", "calls waiting at the end: 300"):
        assert figure in out
