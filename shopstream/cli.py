"""The `shopstream` command: one subcommand for every long-running part of the system."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Annotated

import typer

from infra.config import Settings

app = typer.Typer(
    help="shopstream: streaming product search and recommendations over Apache Kafka.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def _settings() -> Settings:
    return Settings()


def _one_blas_thread() -> None:
    """Small matrix products dominate here; on 2 shared cores, BLAS threads only add contention
    (measured: content search 520 us with threads vs 54 us without, under load)."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)


def _logging(verbose: bool = False) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("kafka").setLevel(logging.WARNING)


@app.command()
def broker(
    fetch_only: Annotated[bool, typer.Option(help="Only download the Kafka jars, then exit.")] = False,
) -> None:
    """Run a single-node KRaft Kafka in the foreground (Ctrl-C stops it)."""
    from infra.broker import LocalBroker, kafka_libs

    s = _settings()
    if fetch_only:
        typer.echo(kafka_libs(s.cache_dir))
        return
    if s.bootstrap_servers:
        raise typer.BadParameter("KAFKA_BOOTSTRAP_SERVERS is set: that cluster is used, nothing to start.")
    b = LocalBroker(s.data_dir / "kafka", s.cache_dir, s.broker_port, s.controller_port, s.partitions)
    with b:
        typer.echo(f"Kafka {b.bootstrap} is up (logs: {b.log_file}). Ctrl-C to stop.")
        try:
            while b.process is not None and b.process.poll() is None:
                time.sleep(1)
        except KeyboardInterrupt:
            typer.echo("stopping Kafka ...")


@app.command()
def topics() -> None:
    """Create the project's topics where missing, and list them with their partition counts."""
    from infra.topics import describe_topics, ensure_topics

    s = _settings()
    created = ensure_topics(s.bootstrap, s.partitions, s.replication_factor, s.topic_prefix)
    for name, parts in sorted(describe_topics(s.bootstrap, s.topic_prefix).items()):
        mark = " (created)" if name.removeprefix(s.topic_prefix) in created or name in created else ""
        typer.echo(f"{name:<24} {parts} partitions{mark}")


@app.command()
def simulate(
    seed: Annotated[int, typer.Option(help="Same seed, same stream.")] = 42,
    rate: Annotated[float, typer.Option(help="Events per second (0: as fast as possible).")] = 200.0,
    count: Annotated[int, typer.Option(help="Stop after N events (0: no limit).")] = 0,
    duration: Annotated[float, typer.Option(help="Stop after N seconds (0: no limit).")] = 0.0,
    products: Annotated[int, typer.Option(help="Initial catalogue size.")] = 2000,
    users: Annotated[int, typer.Option(help="Number of simulated users.")] = 1000,
    tastes_out: Annotated[Path | None, typer.Option(help="Write the users' hidden tastes here (JSON).")] = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
    run_id: Annotated[str | None, typer.Option(
        help="Names this run: order, session and event ids carry it, so runs into the same topics never "
             "collide. Default: a fresh one (start time + random). The same seed and run id give the same "
             "events again (stored once).")] = None,
) -> None:
    """Produce a simulated shop's events (catalogue, then sessions of clicks and orders) to Kafka."""
    import signal

    from pydantic import ValidationError

    from infra.producer import SendFailed
    from infra.sender import ProcessSink
    from producers.publish import publish
    from producers.simulator.world import Simulator, SimulatorConfig, new_run_id

    _logging()
    s = _settings()
    try:
        config = SimulatorConfig(seed=seed, n_products=products, n_users=users, run_id=run_id or new_run_id())
    except ValidationError as exc:
        raise typer.BadParameter(str(exc.errors(include_url=False)[0]["msg"]).removeprefix("Value error, "),
                                 param_hint="--run-id") from None
    logging.getLogger("simulate").info("run id %s (seed %d)", config.run_id, seed)
    sim = Simulator(config)
    stop = [False]

    def on_signal(_signum: int, _frame: object) -> None:
        stop[0] = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    last_write = [time.monotonic()]

    def write_tastes(_event: object = None) -> None:
        if tastes_out is not None and time.monotonic() - last_write[0] > 30:
            sim.write_tastes(tastes_out)
            last_write[0] = time.monotonic()

    # The producer sends from a child process while this one makes the events (infra/sender.py).
    try:
        with ProcessSink(s.bootstrap, s.topic_prefix, failed_path=s.data_dir / "failed-events.jsonl") as sink:
            if tastes_out is not None:
                sim.write_tastes(tastes_out)
            sent = publish(
                sink, sim.events(count or None), rate=rate, duration_s=duration, total=count or None,
                progress=progress, desc="simulate", on_event=write_tastes, should_stop=lambda: stop[0],
            )
            sink.flush()
    except SendFailed as exc:
        typer.echo(f"simulate: {exc}", err=True)
        typer.echo(f"Is Kafka running at {s.bootstrap}? `make run` starts one; KAFKA_BOOTSTRAP_SERVERS names "
                   "another.", err=True)
        raise typer.Exit(1) from None
    if tastes_out is not None:
        sim.write_tastes(tastes_out)
    tally = sim.tally.to_dict()
    typer.echo(json.dumps({"sent": sent, "run_id": config.run_id, **tally}, default=str))


@app.command()
def consume(
    group: Annotated[str, typer.Argument(help="Consumer group: store.")],
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Run one consumer process of GROUP until SIGTERM / Ctrl-C (it finishes its batch first)."""
    from consumers.groups import build_loop

    _logging(verbose)
    _one_blas_thread()
    s = _settings()
    loop = build_loop(group, s)
    loop.install_signal_handlers()
    log = logging.getLogger(f"consume.{group}")
    started = time.monotonic()
    last = [started, 0]

    def report(stats: object) -> None:
        now = time.monotonic()
        if now - last[0] >= 10:
            applied = loop.stats.applied
            log.info("%d events applied (%.0f/s), %d dead-lettered",
                     applied, (applied - last[1]) / (now - last[0]), loop.stats.dead_lettered)
            last[0], last[1] = now, applied

    stats = loop.run(on_batch=report)
    log.info("stopped: %d events applied, %d dead-lettered, %d replayed records skipped",
             stats.applied, stats.dead_lettered, stats.skipped_replayed)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Default: SHOPSTREAM_API_HOST.")] = None,
    port: Annotated[int | None, typer.Option(help="Default: SHOPSTREAM_API_PORT.")] = None,
    workers: Annotated[int | None, typer.Option(
        help="Worker processes (default: SHOPSTREAM_API_WORKERS; 0: one per core).", min=0)] = None,
) -> None:
    """Serve the HTTP API and the web page, with N worker processes that share only the files they read."""
    from api.guards import why_not_serve
    from shopstream.serve import serve_api

    s = _settings()
    refusal = why_not_serve(s)
    if refusal is not None:
        typer.echo(f"shopstream serve: refusing to start: {refusal}", err=True)
        raise typer.Exit(2)
    serve_api(s, host or s.api_host, port or s.api_port, s.api_workers if workers is None else workers)


@app.command()
def lag(
    group: Annotated[list[str] | None, typer.Option("--group", "-g", help="Only these groups.")] = None,
    watch: Annotated[float, typer.Option(help="Repeat every N seconds (0: once).")] = 0.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON rows.")] = False,
) -> None:
    """Per group: Burrow-style status (OK, WARN, STALL, STOP, ERR), lag in records and seconds, live
    processes; per partition: committed offset, log-end offset, lag. `--watch N` refreshes."""
    from shopstream.lagview import show_lag

    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("kafka").setLevel(logging.CRITICAL)
    show_lag(_settings(), group, watch, as_json, typer.echo)


@app.command()
def bench(
    only: Annotated[list[str] | None, typer.Option(
        help="Only these suites (repeat the option, or separate by commas): ingest, relevance, relevance-real, "
             "catalog, search-ingest, latency, freshness, learner, reco-freshness, reco, reco-served, ops; "
             "scale (a million products, only when named).")] = None,
    events: Annotated[int, typer.Option(help="Events per ingest run.")] = 30_000,
    scale_products: Annotated[int, typer.Option(help="Products in the `scale` suite (run only with --only scale).",
                                                min=1000)] = 1_000_000,
    reco_items: Annotated[int, typer.Option(help="Items in the `learner-scale` suite's large catalogue (its "
                                                 "small one has 2,000).", min=2000)] = 200_000,
) -> None:
    """Run the benchmarks; print each figure beside its baseline and write bench/results.json."""
    from shopstream.bench.main import run_benchmarks

    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("kafka").setLevel(logging.ERROR)
    names = {name.strip() for value in only or [] for name in value.split(",") if name.strip()}
    run_benchmarks(_settings(), names or None, events=events, scale_products=scale_products,
                   reco_items=reco_items)


@app.command()
def run(
    rate: Annotated[float, typer.Option(help="Simulator events per second.")] = 200.0,
    products: Annotated[int, typer.Option(help="Initial catalogue size.")] = 2000,
    users: Annotated[int, typer.Option(help="Simulated users.")] = 1000,
    seed: Annotated[int, typer.Option()] = 42,
    count: Annotated[int, typer.Option(help="The simulator stops after N events (0: no limit); the rest runs on.")] = 0,
    duration: Annotated[float, typer.Option(help="Stop after N seconds (0: until Ctrl-C).")] = 0.0,
    run_id: Annotated[str | None, typer.Option(
        help="The simulator's run id (see `simulate --help`). Default: a fresh one for this run, kept when "
             "the supervisor restarts the simulator.")] = None,
) -> None:
    """Run the whole system: broker, topics, consumers, simulator, API. A part that dies is restarted;
    Ctrl-C stops everything."""
    from shopstream.supervisor import Supervisor

    Supervisor(_settings(), rate=rate, products=products, users=users, seed=seed, run_id=run_id,
               count=count).run(duration)


@app.command()
def chaos(
    events: Annotated[int, typer.Option(help="Events the simulator streams (each run).")] = 100_000,
    rate: Annotated[float, typer.Option(help="Events/s of the interrupted run.")] = 500.0,
    seed: Annotated[int, typer.Option()] = 7,
    products: Annotated[int, typer.Option(help="Initial catalogue size.")] = 2000,
    users: Annotated[int, typer.Option(help="Simulated users.")] = 1000,
    consumer_kills: Annotated[int, typer.Option(help="SIGKILLs of each consumer kind.")] = 3,
    api_kills: Annotated[int, typer.Option(help="SIGKILLs of the API.")] = 1,
    broker_outage: Annotated[float, typer.Option(help="Seconds the broker stays down (at least).")] = 35.0,
    keep: Annotated[bool, typer.Option(help="Keep both runs' data folders.")] = False,
) -> None:
    """Kill consumers, the API and the broker while the simulator streams under `shopstream run`; the
    state must equal an uninterrupted run of the same seed (printed side by side)."""
    from shopstream.chaos import ChaosPlan, main

    plan = ChaosPlan(events=events, rate=rate, seed=seed, products=products, users=users,
                     consumer_kills=consumer_kills, api_kills=api_kills, broker_outage_s=broker_outage)
    if not main(_settings(), plan, keep=keep):
        raise typer.Exit(1)


@app.command()
def soak(
    duration: Annotated[float, typer.Option(help="Seconds of measured traffic.")] = 600.0,
    warmup: Annotated[float, typer.Option(help="Seconds of traffic before measuring.")] = 60.0,
    clients: Annotated[int, typer.Option(help="Concurrent HTTP clients.")] = 4,
    rate: Annotated[float, typer.Option(help="Simulator events per second meanwhile.")] = 50.0,
    products: Annotated[int, typer.Option(help="Initial catalogue size.")] = 2000,
    users: Annotated[int, typer.Option(help="Simulated users.")] = 1000,
    keep: Annotated[bool, typer.Option(help="Keep the run's data folder.")] = False,
) -> None:
    """Mixed traffic (search, recommendations, clicks) against `shopstream run` with the simulator
    streaming: errors, p50/p99 per endpoint, memory of the API and each consumer at start and end."""
    from shopstream.soak import SoakPlan, main

    plan = SoakPlan(duration_s=duration, warmup_s=warmup, clients=clients, rate=rate, products=products,
                    users=users)
    if not main(_settings(), plan, keep=keep):
        raise typer.Exit(1)


def _register_subcommands() -> None:
    from shopstream.cli_dead_letter import dead_letter_app
    from shopstream.cli_import import import_app

    app.add_typer(import_app, name="import")
    app.add_typer(dead_letter_app, name="dead-letter")


_register_subcommands()
