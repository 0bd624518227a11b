"""Measurements of bench/compare.sh (run it through that script, which builds codeless, makes
the venv with Jinja2, jsonpath-ng and httpbin, starts the loopback server and httpbin, and
generates the inputs).

Every figure is the median of several runs; the machine is shared, so ratios matter more than
absolute numbers. Prints a Markdown table (and writes it, with the raw samples, to --out).
"""

import argparse
import importlib.metadata
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import jinja2
import jsonpath_ng

import cpu_split  # beside this file

TARGETS = {
    "template": 20.0,  # codeless at least 20x faster than Jinja2
    "keyfields": 20.0,  # at least 20x faster than jsonpath-ng
    "engine_us": 5.0,  # at most 5 us per task at 10,000 tasks (in process: cargo bench)
    "validate_s": 1.0,  # 1,000 x 50-task playbooks in at most 1 s
    "http": 0.80,  # at least 80 % of wrk's req/s
    "memory_gib": 1.0,  # 10,000 concurrent 20-task runs in at most 1 GiB
}


def run(cmd):
    """Runs cmd; returns (wall s, CPU s user+sys, max RSS KiB, stdout bytes)."""
    with tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err)
        out = p.stdout.read()  # the run document can be large: read it all, then reap
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t0
        p.returncode = code = os.waitstatus_to_exitcode(status)
        if code != 0:
            err.seek(0)
            tail = err.read().decode(errors="replace")[-2000:]
            sys.exit(f"failed ({code}): {' '.join(cmd)}\n{tail}")
    return wall, ru.ru_utime + ru.ru_stime, ru.ru_maxrss, out


def med(xs):
    return statistics.median(xs)


def fmt_s(s):
    if s >= 1:
        return f"{s:.2f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.1f} ms"
    if s >= 1e-6:
        return f"{s * 1e6:.2f} µs"
    return f"{s * 1e9:.0f} ns"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--codeless", required=True)
    ap.add_argument("--driver", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--wrk", default="wrk")
    ap.add_argument("--client", required=True, help="the bench_client example binary")
    ap.add_argument("--wrk-seconds", type=int, default=2, help="per wrk measurement")
    ap.add_argument("--httpbin", default=None,
                    help="base URL of a running httpbin: the batch against it too")
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    R = a.runs
    data = a.data
    rows = []  # (what, codeless, peer, ratio, target, met)
    raw = {}

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    # (a) Template rendering, 100,000 times.
    n = 100_000
    log(f"(a) template x{n} ...")
    incident = json.load(open(os.path.join(data, "incident.json")))
    jt = jinja2.Environment().from_string(
        "Alert {{ incident.name }}: {{ incident.title }} (severity {{ incident.severity }})"
    )
    cl, py = [], []
    for _ in range(R):
        _, _, _, out = run([a.driver, "template", str(n)])
        d = json.loads(out)
        cl.append(d["seconds"] / n)
        t0 = time.perf_counter()
        for _ in range(n):
            text = jt.render(incident=incident)
        py.append((time.perf_counter() - t0) / n)
    if text != d["text"]:
        sys.exit(f"template outputs differ: {text!r} vs {d['text']!r}")
    ratio = med(py) / med(cl)
    raw["template"] = {"codeless_s_per_render": cl, "jinja2_s_per_render": py}
    rows.append(("(a) render a 3-reference template (per render; 100,000 renders)",
                 fmt_s(med(cl)), f"Jinja2 {jinja2.__version__}: {fmt_s(med(py))}",
                 f"{ratio:.0f}× faster", "≥ 20×", ratio >= TARGETS["template"]))

    # (b) Key fields $.data[*].id on 1 MB, 100 times.
    n = 100
    log(f"(b) key fields x{n} ...")
    resp_path = os.path.join(data, "response.json")
    resp = json.load(open(resp_path))
    expr = jsonpath_ng.parse("$.data[*].id")
    cl, py = [], []
    for _ in range(R):
        _, _, _, out = run([a.driver, "keyfields", resp_path, str(n)])
        d = json.loads(out)
        cl.append(d["seconds"] / n)
        t0 = time.perf_counter()
        for _ in range(n):
            ids = [m.value for m in expr.find(resp)]
        py.append((time.perf_counter() - t0) / n)
    if len(ids) != d["count"]:
        sys.exit(f"key field counts differ: {len(ids)} vs {d['count']}")
    ratio = med(py) / med(cl)
    raw["keyfields"] = {"codeless_s": cl, "jsonpath_ng_s": py, "ids": len(ids), "bytes": d["bytes"]}
    rows.append((f"(b) key field `$.data[*].id` on {d['bytes'] / 2**20:.1f} MiB JSON ({len(ids)} ids; per extraction)",
                 fmt_s(med(cl)), f"jsonpath-ng {importlib.metadata.version('jsonpath-ng')}: {fmt_s(med(py))}",
                 f"{ratio:.0f}× faster", "≥ 20×", ratio >= TARGETS["keyfields"]))

    # (c) Whole-process `codeless run` of N-task chains.
    log("(c) chains ...")
    chain = {}
    for N in (10, 100, 1_000, 10_000):
        runs = R if N < 10_000 else max(3, R // 2 + 1)
        samples = [run([a.codeless, "run", os.path.join(data, "chains", str(N), "chain.yaml"),
                        "--incident", os.path.join(data, "incident.json"), "-q"])[:3]
                   for _ in range(runs)]
        chain[N] = {"wall": med([s[0] for s in samples]), "cpu": med([s[1] for s in samples]),
                    "rss_kib": med([s[2] for s in samples])}
    raw["chains"] = chain
    prev = None
    for N, c in chain.items():
        marginal = ""
        if prev is not None:
            pn, pc = prev
            m = (c["wall"] - pc["wall"]) / (N - pn)
            marginal = f"; marginal {fmt_s(m)}/task" if m > 0 else "; marginal ≈ 0 (noise)"
        rows.append((f"(c) `codeless run` chain of {N:,} tasks (whole process)",
                     f"{fmt_s(c['wall'])} wall, {fmt_s(c['cpu'])} CPU, {c['rss_kib'] / 1024:.0f} MiB",
                     f"{fmt_s(c['wall'] / N)}/task{marginal}", "", "", None))
        prev = (N, c)
    growth = chain[10_000]["wall"] / chain[1_000]["wall"]
    growth_cpu = chain[10_000]["cpu"] / chain[1_000]["cpu"]
    rows.append(("(c) growth 1,000 → 10,000 tasks (10× the tasks)",
                 f"{growth:.1f}× wall, {growth_cpu:.1f}× CPU", "linear is ≈ 10×",
                 "", "linear", growth <= 12.0))

    # The engine alone (bench_driver phases: the run step of `codeless run`, in process).
    for N in (1_000, 10_000):
        per = []
        for _ in range(R):
            _, _, _, out = run([a.driver, "phases", os.path.join(data, "chains", str(N), "chain.yaml"),
                                os.path.join(data, "incident.json")])
            d = json.loads(out)
            per.append(d["run_ms"] / 1000 / N)
        raw.setdefault("engine", {})[N] = per
        ok = None if N < 10_000 else med(per) * 1e6 <= TARGETS["engine_us"]
        rows.append((f"engine overhead per task, chain of {N:,} (run step only, in process)",
                     fmt_s(med(per)), "StackStorm Orquesta: 9–17 ms (100 tasks), 125–450 ms (1,000)",
                     "", "≤ 5 µs at 10,000" if N == 10_000 else "", ok))

    # Validate a 1,000 x 50-task corpus (whole process).
    log("validate corpus ...")
    samples = [run([a.codeless, "validate", os.path.join(data, "corpus")])[:2] for _ in range(R)]
    v = med([s[0] for s in samples])
    raw["validate"] = samples
    rows.append(("`codeless validate` 1,000 playbooks × 50 tasks (whole process)",
                 fmt_s(v), f"{fmt_s(v / 1000)}/playbook", "", "≤ 1 s", v <= TARGETS["validate_s"]))

    # HTTP: wrk on the same endpoint, then codeless.
    log("HTTP ...")
    url = f"http://127.0.0.1:{a.port}/item/0"

    # CPU per request (user + system, from wait4) shows where each client's time goes; on two
    # cores the client's CPU is taken from the server's.
    cpu_per_req = {}

    def wrk(threads, conns, target=url):
        """wrk's req/s on `target`; on the loopback server also records its CPU per request."""
        _, cpu, _, out = run([a.wrk, f"-t{threads}", f"-c{conns}", f"-d{a.wrk_seconds}s", target])
        rate = total = None
        for line in out.decode().splitlines():
            if line.startswith("Requests/sec:"):
                rate = float(line.split()[1])
            elif " requests in " in line:
                total = int(line.split()[0])
        if rate is None or not total:
            sys.exit(f"cannot read wrk's output:\n{out.decode()}")
        if target == url:
            cpu_per_req.setdefault(f"wrk -c{conns}", []).append(cpu / total)
        return rate

    wrk1 = med([wrk(1, 1) for _ in range(3)])
    http = os.path.join(data, "http")
    base = ["--incident", os.path.join(http, "urls.json"), "--connections",
            os.path.join(http, "connections.yaml"), "-q"]
    conns = os.path.join(http, "connections.yaml")

    def in_process(playbook, concurrency, incident="urls.json", folder=http, connections=conns):
        """req/s of the run alone (bench_driver phases: no process start, no YAML, no printing);
        against the loopback server, also records the process's CPU under `incident`."""
        _, cpu, _, out = run([a.driver, "phases", playbook, os.path.join(folder, incident),
                              connections, str(concurrency)])
        d = json.loads(out)
        if d["status"] != "Successful":
            sys.exit(f"{playbook} did not succeed against {connections}")
        if connections == conns:
            cpu_per_req.setdefault(f"codeless {os.path.basename(os.path.dirname(playbook))} {incident}", []).append(cpu)
        return 1000 / (d["run_ms"] / 1000)

    # The same batch with one URL: what a run costs besides its requests.
    with open(os.path.join(http, "urls.json")) as f:
        one = json.load(f)
    one["urls"] = one["urls"][:1]
    with open(os.path.join(http, "one-url.json"), "w") as f:
        json.dump(one, f)

    # The machine's speed drifts by a third within minutes, so each ratio is taken within one
    # round: wrk (16 and 64 connections), each client library alone, then codeless's batch, one
    # after the other; the table gives the median of the rounds' ratios.
    batch = os.path.join(http, "batch", "playbook.yaml")
    names = ("reqwest", "hyper-pool", "hyper-conn")
    rounds = []
    for _ in range(R):
        r = {"wrk_c16": wrk(2, 16), "wrk_c64": wrk(2, 64)}
        r["wrk_best"] = max(r["wrk_c16"], r["wrk_c64"])
        # The HTTP client libraries alone (warm client and connections): ceilings for codeless
        # on this server. hyper-pool is what codeless uses for plain http://.
        client_rounds = 3
        for name in names:
            _, cpu, _, out = run([a.client, str(a.port), name, "16", str(client_rounds)])
            r[name] = med([json.loads(l)["rps"] for l in out.decode().splitlines() if l.strip()])
            # Every round sends 1,000 requests, the warm-up round too.
            cpu_per_req.setdefault(name, []).append(cpu / (1000 * (client_rounds + 1)))
        r["batch_run"] = med([in_process(batch, 16) for _ in range(3)])
        in_process(batch, 16, "one-url.json")
        rounds.append(r)

    def paired(key):
        """The median over the rounds of `key`'s rate as a share of wrk's best, and its range."""
        shares = [r[key] / r["wrk_best"] for r in rounds]
        return med(shares), min(shares), max(shares)

    proc_rps = []
    for _ in range(R):
        wall, _, _, out = run([a.codeless, "run", batch] + base)
        doc = json.loads(out)
        t = doc["tasks"]["send"]
        if doc["status"] != "Successful" or len(t["returnData"]) != 1000:
            sys.exit(f"the HTTP batch did not succeed: {t['result'][:300]}")
        proc_rps.append(1000 / wall)
    wrk64 = med([r["wrk_c64"] for r in rounds])
    wrk16 = med([r["wrk_c16"] for r in rounds])
    wrk_best = med([r["wrk_best"] for r in rounds])
    clients = {name: med([r[name] for r in rounds]) for name in names}
    run_rps = [r["batch_run"] for r in rounds]
    raw["http"] = {"rounds": rounds, "wrk_c1": wrk1, "batch_process_rps": proc_rps}
    b = med(run_rps)
    share, lo, hi = paired("batch_run")
    rows.append(("HTTP: wrk -t2 -c64 (64 connections) on the loopback server",
                 "", f"wrk: {wrk64:,.0f} req/s", "", "", None))
    rows.append(("HTTP: wrk -t2 -c16 (16 connections, as codeless's --concurrency 16)",
                 "", f"wrk: {wrk16:,.0f} req/s", "", "", None))
    rows.append(("HTTP: wrk -t1 -c1 (one request at a time)", "", f"wrk: {wrk1:,.0f} req/s", "", "", None))
    for name, what in (("reqwest", "reqwest alone"),
                       ("hyper-pool", "hyper-util's pooled client alone (codeless's client for http://)"),
                       ("hyper-conn", "hyper's bare connections, one task each (the floor for a Rust client)")):
        c_share, c_lo, c_hi = paired(name)
        rows.append((f"HTTP: {what}, 1,000 GETs 16 at a time (examples/bench_client.rs)",
                     "", f"{name}: {clients[name]:,.0f} req/s",
                     f"{c_share:.0%} of wrk's best (rounds: {c_lo:.0%}–{c_hi:.0%})", "", None))
    rows.append(("HTTP: 1,000 `SendRequest` as one batch task (elements concurrent, --concurrency 16)",
                 f"{b:,.0f} req/s (run); {med(proc_rps):,.0f} req/s (whole process)",
                 f"{b / wrk1:.0%} of wrk -c1 (unpaired); {med([r['batch_run'] / r['hyper-pool'] for r in rounds]):.0%} of hyper-pool alone",
                 f"{share:.0%} of wrk's best (rounds: {lo:.0%}–{hi:.0%})", "≥ 80 %", share >= TARGETS["http"]))
    batch_cpu = (med(cpu_per_req["codeless batch urls.json"]) - med(cpu_per_req["codeless batch one-url.json"])) / 999
    per_req = [("wrk -t2 -c16", med(cpu_per_req["wrk -c16"])),
               ("hyper's bare connections", med(cpu_per_req["hyper-conn"])),
               ("hyper-util's pooled client", med(cpu_per_req["hyper-pool"])),
               ("reqwest", med(cpu_per_req["reqwest"])),
               ("codeless batch (a 1,000-URL run minus a 1-URL run, in process)", batch_cpu)]
    raw["http"]["cpu_per_request_s"] = dict(per_req)
    for who, c in per_req:
        rows.append((f"HTTP: CPU per request (user + system), {who}", fmt_s(c), "", "", "", None))
    if a.httpbin:
        # The same batch against httpbin under gunicorn: a server that, like most real APIs,
        # costs far more per request than either client. Paired rounds as above.
        hb = os.path.join(data, "httpbin")
        os.makedirs(hb, exist_ok=True)
        with open(os.path.join(hb, "urls.json"), "w") as f:
            json.dump({"urls": [f"/anything/item/{i}" for i in range(1000)]}, f)
        hb_conns = os.path.join(hb, "connections.yaml")
        with open(hb_conns, "w") as f:
            f.write("kind: connections\nconnections:\n  loopback:\n"
                    f"    integration: REST API Callback\n    params: {{ requesturl: \"{a.httpbin}\" }}\n")
        hb_rounds = []
        for _ in range(R):
            w = wrk(2, 16, f"{a.httpbin}/anything/item/0")
            rates = [in_process(batch, 16, folder=hb, connections=hb_conns) for _ in range(3)]
            hb_rounds.append({"wrk_c16": w, "batch_run": med(rates)})
        raw["http"]["httpbin_rounds"] = hb_rounds
        shares = [r["batch_run"] / r["wrk_c16"] for r in hb_rounds]
        rows.append(("HTTP against httpbin (gunicorn, 16 threads; a server that works per request): "
                     "1,000 `SendRequest` as one batch task, --concurrency 16, against wrk -t2 -c16",
                     f"{med([r['batch_run'] for r in hb_rounds]):,.0f} req/s (run)",
                     f"wrk: {med([r['wrk_c16'] for r in hb_rounds]):,.0f} req/s",
                     f"{med(shares):.0%} of wrk (rounds: {min(shares):.0%}–{max(shares):.0%})",
                     "≥ 80 %", med(shares) >= TARGETS["http"]))

    # Where the CPU goes on the loopback server: the whole machine's CPU per request
    # (bench/cpu_split.py), for wrk, hyper-util's pool alone and the batch, on longer runs.
    log("HTTP: where the CPU goes ...")
    split = {"wrk": [], "hyper-pool": [], "codeless": []}
    for _ in range(min(R, 3)):
        split["wrk"].append(cpu_split.wrk(a.port))
        split["hyper-pool"].append(cpu_split.hyper_pool(a.client, a.port))
        split["codeless"].append(cpu_split.codeless(a.driver, data, a.port))
    raw["http"]["cpu_split"] = split
    wrk_all = med([x["all_us"] + x["idle_us"] for x in split["wrk"]])
    for who, what in (("wrk", "wrk -t2 -c16, 3 s"),
                      ("hyper-pool", "hyper-util's pool alone, 101,000 GETs"),
                      ("codeless", "codeless, one batch of 100,000 `SendRequest` (run step)")):
        m = {k: med([x[k] for x in split[who]]) for k in split[who][0]}
        rows.append((f"HTTP, whole machine's CPU per request (/proc/stat; client, server and kernel): {what}",
                     f"{m['all_us']:.1f} µs: user {m['user_us']:.1f}, kernel {m['kernel_us']:.1f}; "
                     f"idle {m['idle_us']:.1f}",
                     f"{m['req_s']:,.0f} req/s",
                     f"wrk's CPU + idle per request over this one's: {wrk_all / (m['all_us'] + m['idle_us']):.0%}",
                     "", None))

    fan = os.path.join(http, "fanout", "playbook.yaml")
    for conc in (16, 64):
        walls, rps = [], []
        for _ in range(R):
            wall, _, _, out = run([a.codeless, "run", fan, "--concurrency", str(conc)] + base)
            if json.loads(out)["status"] != "Successful":
                sys.exit("the HTTP fan-out did not succeed")
            walls.append(wall)
            rps.append(in_process(fan, conc))
        raw["http"][f"fanout_c{conc}"] = {"process_wall": walls, "run_rps": rps}
        rows.append((f"HTTP: 1,000 `SendRequest` tasks between a start and a join, --concurrency {conc}",
                     f"{med(rps):,.0f} req/s (run); {1000 / med(walls):,.0f} req/s (whole process)",
                     "", f"{med(rps) / wrk_best:.0%} of wrk's best (unpaired: the rounds' median)", "", None))

    # Memory: 10,000 concurrent runs of a 20-task playbook in one process.
    log("memory ...")
    _, _, _, out = run([a.driver, "memory", "10000"])
    m = json.loads(out)
    raw["memory"] = m
    gib = m["peak_rss_kib"] / 2**20
    rows.append((f"peak RSS, {m['runs']:,} concurrent runs × 20 tasks in one process "
                 f"({m['most_alive_at_once']:,} alive at once)",
                 f"{m['peak_rss_kib'] / 1024:.0f} MiB", f"{m['kib_per_run']:.0f} KiB/run", "",
                 "≤ 1 GiB", gib <= TARGETS["memory_gib"]))

    lines = ["| measure | codeless | peer / detail | ratio | target | met |",
             "|---|---|---|---|---|---|"]
    for what, c, p, r, t, ok in rows:
        met = "" if ok is None else ("yes" if ok else "**no**")
        lines.append(f"| {what} | {c} | {p} | {r} | {t} | {met} |")
    table = "\n".join(lines)
    print(table)
    if a.out:
        with open(a.out, "w") as f:
            json.dump({"table": table, "raw": raw}, f, indent=1)


if __name__ == "__main__":
    main()
