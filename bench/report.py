"""The results tables printed at the end of a run, with the goals marked MET or NOT MET."""

from __future__ import annotations

from typing import Any

from bench.harness import (
    GOAL_DELIVERY_P99_MS,
    GOAL_EVENTS_PER_S,
    GOAL_NOTIFICATIONS_PER_S,
    GOAL_P99_MS,
    GOAL_RESTART_S,
    GOAL_RSS_MB,
    GOAL_YEAR_S,
)


def render_year_table(results: dict[str, Any]) -> str:
    y = results["year"]
    r = results["restart"]
    marks = r["seconds_from_process_start"]
    rows = [
        (
            "year in: worker start to all agents drained",
            f"{y['seconds_start_to_drained']:,.1f} s",
            f"<= {GOAL_YEAR_S:.0f} s",
            verdict(results["goals"]["year_total"]),
        ),
        (
            "  events/s over that time",
            f"{y['events_per_s_start_to_drained']:,.0f} events/s",
            "",
            "",
        ),
        (
            "  first event to all agents drained",
            f"{y['seconds_first_event_to_drained']:,.1f} s "
            f"({y['events_per_s_first_event_to_drained']:,.0f} events/s)",
            "",
            "",
        ),
        (
            "  report agent: all reports counted",
            f"{y['report_agent_done_after_start_s']:,.1f} s after start "
            f"({y['report_agent']['events_per_s']:,.0f} events/s)",
            "",
            "",
        ),
        ("  worker peak RSS during the year", f"{y['peak_rss_mb']:.0f} MB", "", ""),
        (
            "  CPU: worker (start to drained); broker in that time",
            f"{y.get('worker_cpu_s') or 0:.1f} s; "
            + (f"{y['broker_cpu_s']:.1f} s" if y.get("broker_cpu_s") is not None else "unknown"),
            "",
            "",
        ),
        (
            "  report batches; reports applied as corrections; read back",
            f"{y.get('batches', {}).get('ingest', 0):,}; "
            f"{sum(n for k, n in y.get('outcomes', {}).items() if 'correction' in k):,}; "
            f"{sum(y.get('read_back', {}).values()):,}",
            "",
            "",
        ),
        (
            f"restart: {results.get('restart_signal', 'SIGTERM')} until the worker exited",
            f"{results['stop_seconds']:.1f} s",
            "",
            "",
        ),
        ("restart: process start to /health 200", f"{marks.get('health_200', 0):.1f} s", "", ""),
        (
            "restart: process start to first new report",
            f"{marks['first_new_report']:.1f} s",
            f"<= {GOAL_RESTART_S:.0f} s",
            verdict(results["goals"]["back_to_processing"]),
        ),
        (
            f"  to all {r.get('new_reports', r['events_counted']):,} reports of the new day",
            f"{marks['whole_new_day']:.1f} s",
            "",
            "",
        ),
        ("  restarted worker peak RSS", f"{r['peak_rss_mb']:.0f} MB", "", ""),
    ]
    after_year = next(i for i, row in enumerate(rows) if row[0].startswith("restart:"))
    for mode, c in results.get("faust_ceiling", {}).items():
        rows.insert(
            after_year,
            (
                f"  minimal Faust agent ({mode}, decode only), same reports",
                f"{c['wall_s_incl_startup']:.1f} s with its start "
                f"({c['events_per_s']:,.0f} events/s), CPU {c.get('cpu_s_incl_startup', 0):.1f} s",
                "",
                "",
            ),
        )
    if "times_faust_floor" in y:
        rows.insert(
            after_year + len(results.get("faust_ceiling", {})),
            (
                "  year in / Faust's floor (goal of issue 12: <= 3); CPU / its CPU",
                f"{y['times_faust_floor']:.1f}x; {y.get('cpu_times_faust_floor', 0):.1f}x",
                "",
                "",
            ),
        )
    sums = results.get("alert_checksum", {})
    if "core" in sums:
        worker, core = sums["worker"], sums["core"]
        rows.append(
            (
                "alert changes of the year: worker / decision core",
                f"{worker['changes']:,} ({worker['repeats']} repeated) / {core['changes']:,}, "
                f"sha256 {worker['sha256'][:12]} / {core['sha256'][:12]}",
                "same",
                "SAME" if sums["same"] else "DIFFERENT",
            )
        )
    if "recovered_messages" in r:
        rows.append(
            (
                "  changelog messages read back by the restart",
                f"{r['recovered_messages']['all tables']:,}",
                "",
                "",
            )
        )
    changelogs = results.get("topics_after_year", {})
    if changelogs:
        rows.append(("changelog offsets written (after the year and the new day)", "", "", ""))
    for name, stats in changelogs.items():
        if name.endswith("-changelog"):
            short = name[len(results["app_id"]) + 1 :]
            rows.append(
                (
                    f"  {short}",
                    f"{stats['messages']:,} offsets, ~{stats['estimated_mb']:,.0f} MB",
                    "",
                    "",
                )
            )
    title = (
        f"opvangwacht year benchmark {results['run_id']} - {results['events']:,} reports "
        f"({results['locations']} locations x {results['days']} days, occupancy + intake), "
        f"{results['partitions']} partitions"
    )
    return _table(title, rows, results)


def verdict(ok: bool) -> str:
    return "MET" if ok else "NOT MET"


def render_table(results: dict[str, Any]) -> str:
    t = results["throughput"]
    b = results["baseline"]
    lat = results["latency"]
    mem = results["memory"]
    rows = [
        (
            "worker throughput (backlog)",
            f"{t['events_per_s']:,.0f} events/s",
            f">= {GOAL_EVENTS_PER_S:,.0f} events/s",
            verdict(results["goals"]["throughput"]),
        ),
        ("  baseline: plain consumer + json", f"{b['events_per_s']:,.0f} events/s", "", ""),
        ("  worker / baseline", f"{t['events_per_s'] / b['events_per_s']:.1%}", "", ""),
        *(
            (f"  minimal Faust agent ({mode})", f"{c['events_per_s']:,.0f} events/s", "", "")
            for mode, c in results.get("faust_ceiling", {}).items()
        ),
        *(
            (
                "  worker / minimal Faust agent (batch), this run",
                f"{t['events_per_s'] / c['events_per_s']:.2f}",
                ">= 0.33 (issue 12)",
                verdict(t["events_per_s"] / c["events_per_s"] >= 1 / 3),
            )
            for mode, c in results.get("faust_ceiling", {}).items()
            if mode == "batch" and c.get("events_per_s")
        ),
        (
            "  all agents drained (end to end)",
            f"{results['drain']['pipeline_events_per_s']:,.0f} reports/s"
            if results["drain"].get("pipeline_events_per_s")
            and not results["drain"]["remaining_lag"]
            else "not drained",
            "",
            "",
        ),
        (
            "  worker CPU while catching up",
            f"{t['worker_cpu_cores_used']:.2f} cores" if t.get("worker_cpu_cores_used") else "n/a",
            "",
            "",
        ),
        ("event-to-alert latency p50", f"{lat['p50_ms']:.0f} ms", "", ""),
        (
            "event-to-alert latency p99",
            f"{lat['p99_ms']:.0f} ms",
            f"<= {GOAL_P99_MS:.0f} ms",
            verdict(results["goals"]["latency_p99"]),
        ),
        ("event-to-alert latency max", f"{lat['max_ms']:.0f} ms", "", ""),
        (
            "  cap_exceeded alerts matched / sent",
            f"{lat['alerts_matched']}/{lat['measured_reports']} "
            f"({lat['reports_sent']:,} reports, {lat['report_days']} days, {lat['workload']})",
            "",
            "",
        ),
        ("  other alert messages meanwhile", f"{lat['other_alert_messages']:,}", "", ""),
        (
            "worker peak RSS (VmHWM)",
            f"{mem['peak_rss_mb']:.0f} MB",
            f"<= {GOAL_RSS_MB:.0f} MB",
            verdict(results["goals"]["peak_rss"]),
        ),
    ]
    title = (
        f"opvangwacht benchmark {results['run_id']} - {results['events']:,} reports, "
        f"{results['locations']} locations, {results['partitions']} partitions"
    )
    text = _table(title, rows, results)
    return text + "\nthe year replay and restart (issue 3): python -m bench.run --year"


def _table(title: str, rows: list[tuple[str, str, str, str]], results: dict[str, Any]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    head = ("measure", "figure", "goal", "")
    widths = [max(w, len(h)) for w, h in zip(widths, head, strict=True)]
    line = "  ".join("-" * w for w in widths)
    out = [title, line, "  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)), line]
    out += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    out.append(line)
    m = results["machine"]
    code = results.get("code", {})
    out.append(
        f"machine: {m['nproc']} CPUs, {m['mem_gib']:.0f} GiB, Python {m['python']}, "
        f"{m['platform']}; broker {results['bootstrap']}; commit {code.get('commit', '?')}"
        + (
            f" + {code['uncommitted_source_files']} uncommitted source files"
            if code.get("uncommitted_source_files")
            else ""
        )
    )
    return "\n".join(out)


def render_delivery_table(results: dict[str, Any]) -> str:
    tp, lat, base = results["throughput"], results["latency"], results["baseline"]

    def mark(ok: bool) -> str:
        return "MET" if ok else "NOT MET"

    rows = [
        (
            "notifications/s through the delivery agent",
            f"{tp['notifications_per_s']:,.0f}/s",
            f">= {GOAL_NOTIFICATIONS_PER_S:,.0f}/s",
            mark(results["goals"]["notifications_per_s"]),
        ),
        (
            "  the middle 80 % of the arrivals",
            f"{tp.get('steady_notifications_per_s') or 0:,.0f}/s",
            "",
            "",
        ),
        ("  baseline: one httpx client, sequential", f"{base['posts_per_s']:,.0f}/s", "", ""),
        ("  worker / baseline", f"{results['ratio_worker_to_baseline']:.2f}", "", ""),
        ("  duplicates / bad signatures", f"{tp['duplicates']} / {tp['bad_signatures']}", "", ""),
        (
            f"report -> signed webhook p99 ({lat['rate_per_s']:.0f} reports/s)",
            f"{lat['p99_ms']:,.0f} ms",
            f"<= {GOAL_DELIVERY_P99_MS:,.0f} ms",
            mark(results["goals"]["delivery_p99"]),
        ),
        (
            "  p50 / p90 / max",
            f"{lat['p50_ms']:,.0f} / {lat['p90_ms']:,.0f} / {lat['max_ms']:,.0f} ms",
            "",
            "",
        ),
        (
            "  webhooks matched",
            f"{lat['webhooks_matched']} of {lat['measured_reports']}",
            "",
            "",
        ),
        ("  other webhooks (other alerts, all receivers)", f"{lat['other_webhooks']}", "", ""),
        ("worker peak RSS", f"{results['memory']['peak_rss_mb']:,.0f} MB", "", ""),
    ]
    width = max(len(r[0]) for r in rows)
    out = [f"delivery run {results['run_id']} ({results['receivers']} receivers)"]
    out += [f"{a:<{width}}  {b:>18}  {c:>12}  {d}" for a, b, c, d in rows]
    return "\n".join(out)
