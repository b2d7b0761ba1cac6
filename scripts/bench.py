"""End-to-end producer benchmarks (issue #7): this crate's CLI against kafka-python (the seed's
client), librdkafka through confluent-kafka, and librdkafka through kcat (C, no Python loop),
on the same local broker in one run. Run through `scripts/bench`, which installs the peers and
builds the CLI first.

Every run gets a fresh topic; its records are counted by reading them back with kcat with CRC
checks on (Tansu's end offsets are wrong for multi-record batches, so offsets cannot count).
Each client process's CPU time (user + sys, from wait4) is measured from outside; throughput
comes from the client's own timing (first send to last delivery, as the seed measured) where
it reports one, else from the process's wall time. Medians over --repeats runs.

Writes target/bench/results.json and prints a Markdown table with ratios to the peers;
`--plot` renders target/bench/results.json into SVG bar charts under bench/ (no plotting
library: plain SVG).
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = os.environ.get("EMBEDDED_KAFKA_PYTHON", str(ROOT / ".venv/bin/python"))
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
CLI = TARGET / "release/examples/producer"
FLOOR = TARGET / "release/examples/round_trip_floor"

# name: (description, messages, value size, keyed, acks, max in flight, wait, linger ms,
#        batch size, partitions)
SCENARIOS = {
    "A": ("10,000 × 100 B, no keys, acks=0, then flush", 10_000, 100, False, "0", 5, False, 5, 16384, 2),
    "B": ("10,000 keyed, acks=all, 1 in flight, wait for each", 10_000, 100, True, "all", 1, True, 0, 16384, 2),
    "C": ("200,000 × 100 B, acks=1, linger 5 ms", 200_000, 100, False, "1", 5, False, 5, 16384, 2),
    "D": ("20,000 × 1 KiB keyed, acks=all, 3 partitions", 20_000, 1024, True, "all", 5, False, 5, 16384, 3),
    "E": ("1,000,000 × 100 B, acks=1, batched", 1_000_000, 100, False, "1", 5, False, 5, 131072, 2),
}
CLIENTS = ["embedded-kafka", "kafka-python", "confluent-kafka", "kcat"]


# kcat with the librdkafka of the confluent-kafka wheel (scripts/setup-bench says why).
KCAT_ENV = {**os.environ, "LD_LIBRARY_PATH": str(ROOT / ".venv/kcat-lib")}


def sh(*cmd, **kw):
    return subprocess.run(cmd, check=True, text=True, capture_output=True, **kw).stdout


TANSU = os.environ.get("EMBEDDED_KAFKA_TANSU", str(ROOT / ".broker-venv/bin/tansu"))


def create_topic(bootstrap, topic, partitions):
    sh(TANSU, "topic", "create", "--broker", f"tcp://{bootstrap}", "--partitions",
       str(partitions), topic)


def count_records(bootstrap, topic, idle_s=3.0, cap_s=600.0):
    """Records in `topic` read back by kcat (librdkafka checks CRCs with check.crcs=true).

    Not with kcat's -e: it stops at the high watermark, which Tansu gets wrong for
    multi-record batches. Instead read from the beginning until nothing has arrived for
    `idle_s` seconds, which also counts duplicates."""
    import selectors
    proc = subprocess.Popen(
        ["kcat", "-C", "-b", bootstrap, "-t", topic, "-o", "beginning", "-q", "-u",
         "-X", "check.crcs=true", "-f", "%p\n"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=KCAT_ENV)
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    count, start = 0, time.monotonic()
    try:
        while time.monotonic() - start < cap_s:
            if not sel.select(timeout=idle_s):
                break
            chunk = os.read(proc.stdout.fileno(), 1 << 20)
            if not chunk:
                break
            count += chunk.count(b"\n")
    finally:
        proc.kill()
        proc.wait()
    return count


def value(i, size):
    v = json.dumps({"number": i}).encode()
    return v + b" " * max(0, size - len(v))


def kcat_input(s):
    """The scenario's messages as kcat reads them: one per line, `key<TAB>value` if keyed."""
    _, n, size, keyed, *_ = SCENARIOS[s]
    path = TARGET / f"bench/input-{n}-{size}-{int(keyed)}.txt"
    if not path.exists():
        with open(path, "wb") as f:
            for i in range(n):
                f.write((str(i).encode() + b"\t" if keyed else b"") + value(i, size) + b"\n")
    return path


def command(client, s, bootstrap, topic):
    _, n, size, keyed, acks, inflight, wait, linger, batch, _ = SCENARIOS[s]
    common = ["--bootstrap", bootstrap, "--topic", topic, "--messages", str(n), "--acks", acks,
              "--value-size", str(size), "--max-in-flight", str(inflight), "--linger-ms",
              str(linger), "--batch-size", str(batch)]
    common += ["--create-keys"] * keyed + ["--wait"] * wait
    if client == "embedded-kafka":
        return [str(CLI), *common, "--json"], None
    if client in ("kafka-python", "confluent-kafka"):
        name = "confluent" if client == "confluent-kafka" else client
        return [PY, str(ROOT / "tests/python/bench_producer.py"), "--client", name, *common], None
    if client == "kcat":
        if wait:
            return None, None  # kcat cannot wait for each delivery before the next send
        cmd = ["kcat", "-P", "-b", bootstrap, "-t", topic, "-X", f"acks={acks}",
               "-X", f"linger.ms={linger}", "-X", f"batch.size={batch}",
               "-X", f"max.in.flight={inflight}", "-X", "queue.buffering.max.messages=2000000"]
        if keyed:
            cmd += ["-K", "\t"]
        return cmd, kcat_input(s)
    raise ValueError(client)


def run_once(client, s, bootstrap, run_id):
    topic = f"bench-{s}-{client}-{run_id}"
    create_topic(bootstrap, topic, SCENARIOS[s][9])
    cmd, stdin_path = command(client, s, bootstrap, topic)
    if cmd is None:
        return None
    stdin = open(stdin_path, "rb") if stdin_path else subprocess.DEVNULL
    # The children's CPU totals around this one child: nothing else runs meanwhile.
    cpu_before = child_cpu()
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=KCAT_ENV if client == "kcat" else None)
    out, err = proc.communicate()
    wall = time.perf_counter() - start
    cpu = child_cpu() - cpu_before
    if stdin_path:
        stdin.close()
    n = SCENARIOS[s][1]
    reported = None
    lines = out.decode(errors="replace").strip().splitlines()
    if lines and lines[-1].startswith("{"):
        reported = json.loads(lines[-1])
    if proc.returncode != 0 and client != "kafka-python":
        raise RuntimeError(f"{client} {s} failed ({proc.returncode}): {err.decode(errors='replace')[-2000:]}")
    elapsed = reported["elapsed_s"] if reported else wall
    read_back = count_records(bootstrap, topic)
    return {
        "client": client, "scenario": s, "topic": topic, "messages": n,
        "elapsed_s": elapsed, "wall_s": wall, "cpu_s": cpu, "read_back": read_back,
        "lost": n - read_back if read_back <= n else 0,
        "duplicated": read_back - n if read_back > n else 0,
        "msgs_per_s": n / elapsed, "mb_per_s": n * SCENARIOS[s][2] / 1e6 / elapsed,
        "cpu_us_per_msg": cpu / n * 1e6, "exit": proc.returncode,
    }


def child_cpu():
    import resource
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def median_of(runs, key):
    return statistics.median(r[key] for r in runs)


def floor_run(bootstrap, run_id):
    """One run of the round-trip floor: as many single-record acks=all round trips as B sends
    messages, on a fresh topic. Returns its JSON (mean_us, median_us, p10_us, p90_us)."""
    topic = f"bench-floor-{run_id}"
    create_topic(bootstrap, topic, 1)
    out = sh(str(FLOOR), bootstrap, topic, str(SCENARIOS["B"][1]), "--json")
    return json.loads(out.strip().splitlines()[-1])


def table(results, floor):
    lines = []
    for s, (desc, *_rest) in SCENARIOS.items():
        rows = [r for r in results["summary"] if r["scenario"] == s]
        if not rows:
            continue
        lines.append(f"\n**{s}: {desc}**\n")
        lines.append("| client | msgs/s | MB/s | CPU µs/msg | read back / sent | lost | dup | ours ÷ it (msgs/s) | it ÷ ours (CPU/msg) |")
        lines.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        ours = next((r for r in rows if r["client"] == "embedded-kafka"), None)
        for r in rows:
            speed = f"{ours['msgs_per_s'] / r['msgs_per_s']:.2f}×" if ours else "–"
            cpu = f"{r['cpu_us_per_msg'] / ours['cpu_us_per_msg']:.2f}×" if ours else "–"
            lines.append(
                f"| {r['client']} | {r['msgs_per_s']:,.0f} | {r['mb_per_s']:.2f} | "
                f"{r['cpu_us_per_msg']:.2f} | {r['read_back']:,} / {r['messages']:,} | {r['lost']} | "
                f"{r['duplicated']} | {speed} | {cpu} |")
        if s == "B" and floor and ours:
            per_msg = 1e6 / ours["msgs_per_s"]
            lines.append(f"\nRound-trip floor (single-record acks=all Produce round trips on a raw "
                         f"socket, run before each B run; medians over runs): mean "
                         f"{floor['mean_us']:.1f} µs (median round trip {floor['median_us']:.1f} µs); "
                         f"ours {per_msg:.1f} µs per message (elapsed ÷ messages, a mean) = "
                         f"{per_msg / floor['mean_us']:.2f}× the floor's mean "
                         f"({per_msg / floor['median_us']:.2f}× its median).")
    return "\n".join(lines)


def svg_bars(title, unit, bars, path, left=150):
    """A horizontal bar chart: bars = [(label, value)]; this crate's bars in orange, a floor
    (a lower bound, not a client) in grey, peers in blue."""
    width, bar_h, gap = 490 + left, 22, 8
    top = 40
    height = top + len(bars) * (bar_h + gap) + 20
    vmax = max((v for _, v in bars), default=1) or 1
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'font-family="sans-serif" font-size="12">',
             f'<text x="10" y="22" font-size="14" font-weight="bold">{title} ({unit})</text>']
    for i, (label, v) in enumerate(bars):
        y = top + i * (bar_h + gap)
        w = (width - left - 90) * v / vmax
        colour = ("#d9480f" if "embedded-kafka" in label
                  else "#868e96" if "floor" in label else "#4c6ef5")
        parts.append(f'<text x="{left - 6}" y="{y + 15}" text-anchor="end">{label}</text>')
        parts.append(f'<rect x="{left}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{colour}"/>')
        parts.append(f'<text x="{left + w + 4:.1f}" y="{y + 15}">{v:,.1f}</text>')
    parts.append("</svg>")
    path.write_text("\n".join(parts) + "\n")


def plot(results, out_dir):
    out_dir.mkdir(parents=True, exist_ok=True)
    for s in SCENARIOS:
        rows = [r for r in results["summary"] if r["scenario"] == s]
        if not rows:
            continue
        bars = [(r["client"], r["msgs_per_s"]) for r in rows]
        if s == "B" and results.get("floor_us"):
            # One round trip per message: the raw-socket floor's rate is the ceiling.
            bars.append(("round-trip floor", 1e6 / results["floor_us"]["mean_us"]))
        svg_bars(f"{s}: {SCENARIOS[s][0]}", "msgs/s", bars, out_dir / f"{s}-throughput.svg")
        svg_bars(f"{s}: client CPU per message", "µs",
                 [(r["client"], r["cpu_us_per_msg"]) for r in rows], out_dir / f"{s}-cpu.svg")
    print(f"plots written to {out_dir}")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bootstrap", required=True)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--scenarios", default="A,B,C,D,E")
    p.add_argument("--clients", default=",".join(CLIENTS))
    p.add_argument("--plot", action="store_true", help="also render SVG charts into bench/")
    a = p.parse_args()
    (TARGET / "bench").mkdir(parents=True, exist_ok=True)
    if not shutil.which("kcat"):
        sys.exit("bench: kcat is missing; run scripts/setup-bench")
    runs = []
    stamp = int(time.time())
    floors = []
    for s in a.scenarios.split(","):
        for r in range(a.repeats):
            if s == "B":
                # The floor right before each B run, on the broker as it is then: the two are
                # compared run by run, not a quiet floor against a busy run or the reverse.
                floors.append(floor_run(a.bootstrap, f"{stamp}-{r}"))
                print(f"B floor            run {r + 1}: mean {floors[-1]['mean_us']:.1f} µs, "
                      f"median {floors[-1]['median_us']:.1f} µs", file=sys.stderr)
            for client in a.clients.split(","):
                result = run_once(client, s, a.bootstrap, f"{stamp}-{r}")
                if result is None:
                    continue
                runs.append(result)
                print(f"{s} {client:16} run {r + 1}: {result['msgs_per_s']:>10,.0f} msg/s, "
                      f"{result['cpu_us_per_msg']:7.2f} µs CPU/msg, read back "
                      f"{result['read_back']:,}/{result['messages']:,}", file=sys.stderr)
    summary = []
    for s in SCENARIOS:
        for client in CLIENTS:
            rs = [r for r in runs if r["scenario"] == s and r["client"] == client]
            if rs:
                summary.append({
                    "scenario": s, "client": client, "runs": len(rs), "messages": rs[0]["messages"],
                    **{k: median_of(rs, k) for k in ("msgs_per_s", "mb_per_s", "cpu_us_per_msg", "elapsed_s")},
                    "read_back": min(r["read_back"] for r in rs),
                    "lost": max(r["lost"] for r in rs),
                    "duplicated": max(r["duplicated"] for r in rs),
                })
    floor = ({k: statistics.median(f[k] for f in floors) for k in ("mean_us", "median_us")}
             if floors else None)
    results = {"runs": runs, "summary": summary, "floor_us": floor, "floor_runs": floors,
               "machine": {"cpus": os.cpu_count(), "kernel": os.uname().release}}
    (TARGET / "bench/results.json").write_text(json.dumps(results, indent=1))
    print(table(results, floor))
    if a.plot:
        plot(results, ROOT / "bench")


if __name__ == "__main__":
    main()
