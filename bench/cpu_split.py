"""Where the machine's CPU goes per request, for wrk, hyper-util's pool alone and codeless's batch.

On two cores with the loopback server beside the client, every client is CPU-bound: the server,
the kernel's TCP work (much of it in softirq, charged to no process) and the client share the
same two cores. This reads the whole machine's CPU time from /proc/stat around each client, on
runs long enough for its 10 ms ticks (a few seconds each), and divides by the requests made:

    all CPU per request = (user + system + irq + softirq) / requests

(and idle and steal, the hypervisor's share, beside it).

When nothing else runs, a client's req/s is about 2 cores / (all CPU per request + idle gaps),
so the ratios of these figures say how far the client's own share can move its rate. Run by
bench/compare.sh (section "where the CPU goes"); standalone:

    python3 bench/cpu_split.py --driver target/release/examples/bench_driver \
        --client target/release/examples/bench_client --data DIR --port PORT [--rounds 3]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

FIELDS = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")


def cpu_ticks():
    with open("/proc/stat") as f:
        line = f.readline().split()
    assert line[0] == "cpu"
    return dict(zip(FIELDS, map(int, line[1:9])))


def measured(cmd):
    """Runs cmd; returns (stdout, ticks spent in each /proc/stat field while it ran)."""
    before = cpu_ticks()
    p = subprocess.run(cmd, capture_output=True, text=True)
    after = cpu_ticks()
    if p.returncode != 0:
        sys.exit(f"failed ({p.returncode}): {' '.join(cmd)}\n{p.stderr[-2000:]}")
    return p.stdout, {k: after[k] - before[k] for k in FIELDS}


def split(ticks, requests, seconds):
    hz = os.sysconf("SC_CLK_TCK")
    per = lambda *keys: sum(ticks[k] for k in keys) / hz / requests * 1e6  # µs per request
    busy = per("user", "nice", "system", "irq", "softirq")
    return {
        "req_s": requests / seconds,
        "all_us": busy,
        "user_us": per("user", "nice"),
        "kernel_us": per("system", "irq", "softirq"),
        "idle_us": per("idle", "iowait"),
        "steal_us": per("steal"),
    }


def wrk(port):
    out, ticks = measured(["wrk", "-t2", "-c16", "-d3s", f"http://127.0.0.1:{port}/item/0"])
    total = next(int(l.split()[0]) for l in out.splitlines() if " requests in " in l)
    secs = float(next(l.split()[3] for l in out.splitlines() if " requests in " in l).rstrip("s,"))
    return split(ticks, total, secs)


def hyper_pool(client, port, rounds=100):
    out, ticks = measured([client, str(port), "hyper-pool", "16", str(rounds)])
    ms = sum(json.loads(l)["ms"] for l in out.splitlines() if l.strip())
    # The warm-up round is not printed but its CPU is counted: count its requests too.
    return split(ticks, 1000 * (rounds + 1), ms / 1000 * (rounds + 1) / rounds)


def codeless(driver, data, port, urls=100_000):
    folder = tempfile.mkdtemp(prefix="codeless-cpu-")
    incident = os.path.join(folder, "urls.json")
    with open(incident, "w") as f:
        json.dump({"urls": [f"/item/{i}" for i in range(urls)]}, f)
    http = os.path.join(data, "http")
    out, ticks = measured([driver, "phases", os.path.join(http, "batch", "playbook.yaml"),
                           incident, os.path.join(http, "connections.yaml"), "16"])
    os.remove(incident)
    os.rmdir(folder)
    d = json.loads(out)
    if d["status"] != "Successful":
        sys.exit("the codeless batch did not succeed")
    # The ticks also cover loading and writing the run document (about 4 % of them).
    return split(ticks, urls, d["run_ms"] / 1000)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--driver", required=True)
    ap.add_argument("--client", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--port", required=True, type=int)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    runs = {"wrk": [], "hyper-pool": [], "codeless": []}
    for _ in range(a.rounds):
        runs["wrk"].append(wrk(a.port))
        runs["hyper-pool"].append(hyper_pool(a.client, a.port))
        runs["codeless"].append(codeless(a.driver, a.data, a.port))
    med = {who: {k: statistics.median(r[k] for r in rs) for k in rs[0]} for who, rs in runs.items()}
    print(json.dumps({"median": med, "runs": runs}))


if __name__ == "__main__":
    main()
