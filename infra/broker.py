"""KRaft Apache Kafka on this machine, run from Maven Central jars on the machine's JDK.

The jars are resolved once with Maven (`infra/kafka/pom.xml`) into the cache folder and reused.
`LocalBroker` formats its storage on first start, waits until the broker answers metadata
requests, and stops cleanly (or is killed, for outage tests). Tests start one on free ports in a
temporary folder. `LocalCluster` starts several from the same jars as one replicated cluster.
"""

from __future__ import annotations

import base64
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from types import TracebackType

from infra.process import die_with_parent, stop_process

KAFKA_VERSION = "4.1.1"
_KAFKA_DIR = Path(__file__).parent / "kafka"


class BrokerError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def kafka_libs(cache_dir: Path, quiet: bool = False) -> Path:
    """The folder with the pinned Kafka jars, resolving them with Maven on first use."""
    libs = cache_dir / f"kafka-{KAFKA_VERSION}" / "libs"
    if (libs / f"kafka_2.13-{KAFKA_VERSION}.jar").exists():
        return libs
    if shutil.which("mvn") is None or shutil.which("java") is None:
        raise BrokerError(
            "Starting a local Kafka needs a JDK 17+ (`java`) and Maven (`mvn`) on PATH; install them, "
            "or set KAFKA_BOOTSTRAP_SERVERS to use an existing cluster."
        )
    partial = libs.with_name("libs.partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    if not quiet:
        print(f"Fetching Apache Kafka {KAFKA_VERSION} from Maven Central (once) ...", file=sys.stderr)
    cmd = [
        "mvn", "-B", "-q", "-f", str(_KAFKA_DIR / "pom.xml"),
        "dependency:copy-dependencies", f"-DoutputDirectory={partial}",
    ]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        raise BrokerError(
            "Maven could not fetch the Kafka jars:\n" + (result.stdout + result.stderr)[-3000:]
        )
    os.replace(partial, libs)
    return libs


def java_command(cache_dir: Path, main_class: str, *args: str, heap: str = "256m") -> list[str]:
    libs = kafka_libs(cache_dir)
    return [
        "java", f"-Xmx{heap}", "-Xss1m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
        "-Djava.awt.headless=true", "-cp", f"{libs}/*", main_class, *args,
    ]


def _cluster_id() -> str:
    """Kafka's Uuid format: 16 random bytes, base64url without padding (what `random-uuid` prints).

    Like Kafka's own `Uuid.randomUuid`, never one that starts with "-": the CLI would take it for
    an option.
    """
    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cid.startswith("-"):
            return cid


def _server_properties(
    data_dir: Path, port: int, controller_port: int, partitions: int, node_id: int = 1,
    voters: str | None = None, replication: int = 1, min_insync: int = 1,
) -> str:
    """A combined broker + controller. Alone (`voters` None) it is its own quorum; in a cluster,
    `voters` is the static quorum `id@host:port,...` and internal topics are replicated too."""
    quorum = (f"controller.quorum.voters={voters}" if voters
              else f"controller.quorum.bootstrap.servers=127.0.0.1:{controller_port}")
    return f"""\
process.roles=broker,controller
node.id={node_id}
{quorum}
listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}
advertised.listeners=PLAINTEXT://127.0.0.1:{port}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs={data_dir / "logs"}
num.partitions={partitions}
default.replication.factor={replication}
min.insync.replicas={min_insync}
auto.create.topics.enable=false
offsets.topic.replication.factor={replication}
offsets.topic.num.partitions=10
transaction.state.log.replication.factor={replication}
transaction.state.log.min.isr={min_insync}
share.coordinator.state.topic.replication.factor={replication}
share.coordinator.state.topic.min.isr={min_insync}
group.initial.rebalance.delay.ms=0
log.cleaner.backoff.ms=1000
"""


def wait_for_broker(bootstrap: str, timeout_s: float = 60.0) -> None:
    """Block until the broker answers a metadata request."""
    from kafka import KafkaAdminClient  # local import: keeps `infra.broker` light for the CLI

    host, _, port = bootstrap.split(",")[0].rpartition(":")
    deadline = time.monotonic() + timeout_s
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, int(port)), timeout=1):
                pass
            admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
            try:
                admin.describe_cluster()
                return
            finally:
                admin.close()
        except Exception as exc:  # the broker is still starting: connection refused, no controller yet
            last = exc
            time.sleep(0.3)
    raise BrokerError(f"Kafka at {bootstrap} did not answer within {timeout_s:.0f}s: {last}")


class LocalBroker:
    """One broker process. Use as a context manager, or `start()` / `stop()`."""

    def __init__(
        self,
        data_dir: Path,
        cache_dir: Path,
        port: int = 9092,
        controller_port: int = 9093,
        partitions: int = 3,
        heap: str = "512m",
        *,
        node_id: int = 1,
        voters: str | None = None,
        cluster_id: str | None = None,
        replication: int = 1,
        min_insync: int = 1,
    ) -> None:
        self.data_dir = data_dir.resolve()
        self.cache_dir = cache_dir
        self.port = port
        self.controller_port = controller_port
        self.partitions = partitions
        self.heap = heap
        # Cluster membership (`LocalCluster`); the defaults make a single node its own quorum.
        self.node_id = node_id
        self.voters = voters
        self.cluster_id = cluster_id
        self.replication = replication
        self.min_insync = min_insync
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def log_file(self) -> Path:
        return self.data_dir / "server.log"

    def _format(self, props: Path) -> None:
        if (self.data_dir / "logs" / "meta.properties").exists():
            return
        # Alone: `--standalone` makes this node the whole quorum. In a cluster every node is
        # formatted with the same cluster id and the static voters of its properties.
        mode = [] if self.voters else ["--standalone"]
        cmd = java_command(
            self.cache_dir, "kafka.tools.StorageTool",
            "format", *mode, "-t", self.cluster_id or _cluster_id(), "-c", str(props),
        )
        result = subprocess.run(cmd, capture_output=True, text=True)
        if result.returncode != 0:
            raise BrokerError(f"formatting Kafka storage failed:\n{result.stdout}{result.stderr}")

    def start(self, timeout_s: float = 90.0) -> LocalBroker:
        """Start the broker and wait until it answers metadata requests."""
        self.launch()
        try:
            self._wait(timeout_s)
        except BaseException:
            self.stop()
            raise
        return self

    def launch(self) -> LocalBroker:
        """Start the broker process without waiting for it (see `ready`); raises if a port is taken."""
        for p in (self.port, self.controller_port):
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", p)) == 0:
                    raise BrokerError(
                        f"port {p} is already in use: is another broker running? Stop it, or set "
                        f"SHOPSTREAM_BROKER_PORT / SHOPSTREAM_CONTROLLER_PORT, or KAFKA_BOOTSTRAP_SERVERS."
                    )
        self.data_dir.mkdir(parents=True, exist_ok=True)
        props = self.data_dir / "server.properties"
        props.write_text(
            _server_properties(self.data_dir, self.port, self.controller_port, self.partitions, self.node_id,
                               self.voters, self.replication, self.min_insync)
        )
        self._format(props)
        cmd = java_command(self.cache_dir, "kafka.Kafka", str(props), heap=self.heap)
        cmd[1:1] = [
            f"-Dlog4j2.configurationFile={_KAFKA_DIR / 'log4j2.properties'}",
            f"-Dkafka.logs.dir={self.data_dir}",
        ]
        out = (self.data_dir / "stdout.log").open("ab")
        self.process = subprocess.Popen(
            cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True, preexec_fn=die_with_parent,
        )
        out.close()
        return self

    def ready(self) -> bool:
        """Whether the launched broker is up and listening (a quick check that never blocks long;
        clients retry a broker that still finishes its start)."""
        if not self.alive():
            return False
        with socket.socket() as sock:
            sock.settimeout(0.5)
            return sock.connect_ex(("127.0.0.1", self.port)) == 0

    def _wait(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise BrokerError(
                    f"Kafka exited with code {self.process.returncode}; last log lines:\n{self.tail()}"
                )
            try:
                wait_for_broker(self.bootstrap, timeout_s=2)
                return
            except BrokerError:
                continue
        raise BrokerError(f"Kafka did not start within {timeout_s:.0f}s; last log lines:\n{self.tail()}")

    def tail(self, lines: int = 30) -> str:
        text = ""
        for f in (self.log_file, self.data_dir / "stdout.log"):
            if f.exists():
                text += "\n".join(f.read_text(errors="replace").splitlines()[-lines:]) + "\n"
        return text

    def stop(self, timeout_s: float = 30.0) -> None:
        """Stop gracefully (SIGTERM: Kafka's controlled shutdown), SIGKILL after `timeout_s`."""
        proc, self.process = self.process, None
        stop_process(proc, timeout_s)

    def kill(self) -> None:
        """SIGKILL the broker, as a crash or a power cut would (for outage tests and `shopstream chaos`)."""
        proc, self.process = self.process, None
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def __enter__(self) -> LocalBroker:
        return self.start()

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class LocalCluster:
    """`size` brokers (each also a controller voter) from the same jars: a real multi-broker KRaft
    cluster on this machine, with replication factor `size` and `min.insync.replicas` = size - 1 by
    default, so one broker can be lost without losing a write or stopping the stream."""

    def __init__(self, data_dir: Path, cache_dir: Path, size: int = 3, partitions: int = 3,
                 min_insync: int | None = None, heap: str = "384m") -> None:
        self.data_dir = data_dir.resolve()
        ports = [(free_port(), free_port()) for _ in range(size)]
        voters = ",".join(f"{i}@127.0.0.1:{c}" for i, (_, c) in enumerate(ports, start=1))
        cluster_id = _cluster_id()
        self.min_insync = max(size - 1, 1) if min_insync is None else min_insync
        self.brokers = [
            LocalBroker(self.data_dir / f"node-{i}", cache_dir, port, controller, partitions, heap,
                        node_id=i, voters=voters, cluster_id=cluster_id, replication=size,
                        min_insync=self.min_insync)
            for i, (port, controller) in enumerate(ports, start=1)
        ]

    @property
    def bootstrap(self) -> str:
        """Every broker: clients find the survivors when one is down."""
        return ",".join(b.bootstrap for b in self.brokers)

    @property
    def replication(self) -> int:
        return len(self.brokers)

    def start(self, timeout_s: float = 180.0) -> LocalCluster:
        """Launch every node (the quorum needs a majority before any answers), then wait for all."""
        try:
            for b in self.brokers:
                b.launch()
            for b in self.brokers:
                b._wait(timeout_s)
        except BaseException:
            self.stop()
            raise
        return self

    def broker(self, node_id: int) -> LocalBroker:
        return self.brokers[node_id - 1]

    def stop(self, timeout_s: float = 30.0) -> None:
        for b in self.brokers:
            b.stop(timeout_s)

    def __enter__(self) -> LocalCluster:
        return self.start()

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
