"""Where a worker's time goes: py-spy samples a real worker (concurrency 2, its pool processes
included) while it runs N executions of engine_throughput's 3-step ``transform`` workflow, then
this prints the top frames by own time and by inclusive time, and the share of each library.

    .venv/bin/pip install -e ".[bench]"        # py-spy
    .venv/bin/python bench/profile_worker.py [--executions 2000] [--rate 200]

Needs PostgreSQL and Redis, as engine_throughput.py. The raw stacks (py-spy's collapsed format,
readable by any flame-graph tool) go to bench/results/profile_worker.txt.
"""

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.engine_throughput import RESULTS, ROOT, _start_worker, prepare, run_engine, write_results

FRAME = re.compile(r"^(?P<function>.*) \((?P<file>[^()]*?)(?::\d+)?\)$")
# Where a frame's file lives, for the share per library; the first match wins.
OURS = "our code"
AREAS = [
    (OURS, re.compile(rf"^{re.escape(str(ROOT))}/(?!\.venv)")),
    ("django", re.compile(r"/django/")),
    ("rest_framework", re.compile(r"/rest_framework/")),
    ("celery / kombu / billiard", re.compile(r"/(celery|kombu|billiard|vine)/")),
    ("redis client", re.compile(r"/redis/")),
    ("psycopg", re.compile(r"/psycopg")),
    ("jinja2", re.compile(r"/jinja2/")),
    ("python stdlib", re.compile(r"/lib/python3\.\d+/(?!site-packages)")),
]


def _py_spy() -> str:
    found = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(found).exists():
        raise SystemExit('py-spy is not installed: .venv/bin/pip install -e ".[bench]"')
    return found


def _frame(text: str) -> tuple[str, str]:
    match = FRAME.match(text.strip())
    if match is None:
        return text.strip(), ""
    return match["function"], match["file"]


def _area(file: str) -> str:
    for name, pattern in AREAS:
        if pattern.search(file):
            return name
    return "other libraries"


def _short(file: str) -> str:
    for marker in ("site-packages/", f"{ROOT}/"):
        if marker in file:
            return file.split(marker, 1)[1]
    return file.rsplit("/lib/", 1)[-1]


def summarise(raw: str, top: int) -> dict[str, object]:
    """Own samples per function and per library, and inclusive samples of our own functions (a
    library's entry points include everything), from collapsed stacks (``frame;...;frame n``;
    py-spy puts the process and thread first)."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    areas: Counter[str] = Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_frame(part) for part in stack.split(";") if "(" in part]
        if not frames:
            continue
        total += count
        names = [f"{function} ({_short(file)})" for function, file in frames]
        own[names[-1]] += count
        areas[_area(frames[-1][1])] += count
        ours = {name for name, (_, file) in zip(names, frames, strict=True) if _area(file) == OURS}
        for name in ours:
            inclusive[name] += count

    def share(counter: Counter[str]) -> list[tuple[str, float]]:
        return [(name, 100 * n / total) for name, n in counter.most_common(top)]

    return {
        "samples": total,
        "own": share(own),
        "inclusive": share(inclusive),
        "areas": [(name, 100 * n / total) for name, n in areas.most_common()],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--executions", type=int, default=2000)
    parser.add_argument("--rate", type=int, default=200, help="samples per second")
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    py_spy = _py_spy()
    env = prepare()
    worker = _start_worker(env)
    RESULTS.mkdir(parents=True, exist_ok=True)
    raw_path = RESULTS / "profile_worker.txt"
    sampler = None
    try:
        run_engine(100)  # warm-up: imports, connections, template caches
        sampler = subprocess.Popen(
            [py_spy, "record", "--pid", str(worker.pid), "--subprocesses", "--format", "raw",
             "--rate", str(args.rate), "--nonblocking", "--full-filenames",
             "--output", str(raw_path)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        time.sleep(1.0)  # py-spy attaches
        rate = run_engine(args.executions)
        sampler.send_signal(signal.SIGINT)
        sampler.wait(timeout=60)
    finally:
        if sampler is not None and sampler.poll() is None:
            sampler.kill()
        os.killpg(worker.pid, signal.SIGKILL)
    summary = summarise(raw_path.read_text(), args.top)
    print(f"\n{args.executions} executions at {rate:.1f}/s under the sampler; ", end="")
    print(f"{summary['samples']} samples (busy threads only)\n")
    for title in ("areas", "own", "inclusive"):
        print({"areas": "own time by library", "own": "top frames by own time",
               "inclusive": "our functions by inclusive time"}[title])  # fmt: skip
        for name, percent in summary[title]:  # type: ignore[attr-defined]
            print(f"  {percent:5.1f} %  {name}")
        print()
    write_results("profile_worker", {"executions": args.executions, "rate": rate, **summary})


if __name__ == "__main__":
    main()
