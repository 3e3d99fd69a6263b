"""Helpers for scripts/lib/bench.py: measured child processes, test servers, generated
pipelines and datasets, and the streaming-latency probe."""
import glob
import json
import os
import random
import re
import selectors
import shutil
import signal
import socket
import statistics
import subprocess
import tempfile
import threading
import time
import urllib.parse


# ---------------------------------------------------------------------------------------------
# Measured processes


class Run:
    """A finished child process: wall time, CPU time (user + system), peak RSS, output."""

    def __init__(self, wall, cpu, rss_mb, returncode, stdout, stderr):
        self.wall = wall
        self.cpu = cpu
        self.rss_mb = rss_mb
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr

    def json_lines(self):
        return [json.loads(line) for line in self.stdout.splitlines() if line.startswith("{")]

    def check(self, what):
        if self.returncode != 0:
            raise RuntimeError(f"{what} exited {self.returncode}: {self.stderr[-2000:]}")
        return self


def measure(cmd, cwd=None, env=None, timeout=None):
    """Runs `cmd` to its end; its rusage comes from wait4, so CPU time and peak RSS are the
    child's own (not the harness's, nor a server's)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        process = subprocess.Popen(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err)
        timer = None
        if timeout:
            timer = threading.Timer(timeout, lambda: process.kill())
            timer.start()
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
        if timer:
            timer.cancel()
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Run(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, process.returncode,
                   out.read().decode(errors="replace"), err.read().decode(errors="replace"))


def measure_group(cmds, cwd=None, env=None, timeout=None):
    """Starts every command of `cmds` at once and waits for all: (a Run per command, in order,
    each with its own wall, CPU and peak RSS from wait4; the group's wall, from the first start
    to the last exit)."""
    files = []
    processes = []
    start = time.perf_counter()
    for cmd in cmds:
        out, err = tempfile.TemporaryFile(), tempfile.TemporaryFile()
        files.append((out, err))
        processes.append((subprocess.Popen(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err),
                          time.perf_counter()))
    ended = [None] * len(cmds)

    def reap(i):
        process, began = processes[i]
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        ended[i] = (time.perf_counter() - began, usage, time.perf_counter())

    threads = [threading.Thread(target=reap, args=(i,), daemon=True) for i in range(len(cmds))]
    for thread in threads:
        thread.start()
    timers = []
    if timeout:
        for process, _ in processes:
            timers.append(threading.Timer(timeout, process.kill))
            timers[-1].start()
    for thread in threads:
        thread.join()
    for timer in timers:
        timer.cancel()
    runs = []
    for (process, _), (out, err), (wall, usage, _) in zip(processes, files, ended):
        out.seek(0)
        err.seek(0)
        runs.append(Run(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, process.returncode,
                        out.read().decode(errors="replace"), err.read().decode(errors="replace")))
        out.close()
        err.close()
    return runs, max(end for _, _, end in ended) - start


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else float("nan")


def percentile(values, p):
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * p / 100
    lower = int(k)
    upper = min(lower + 1, len(ordered) - 1)
    return ordered[lower] + (ordered[upper] - ordered[lower]) * (k - lower)


# ---------------------------------------------------------------------------------------------
# Servers


class Server:
    """A test server child: `skein-test-server ...` or `skein-bench server ...` (the same
    SkeinTestServer, with its request record and a `stats` command on stdin)."""

    def __init__(self, cmd, recording=False):
        self.recording = recording
        self.process = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.DEVNULL, text=True, bufsize=1)
        line = self.process.stdout.readline()
        match = re.search(r"https?://\S+", line)
        if not match:
            self.process.kill()
            raise RuntimeError(f"server did not start: {line!r}")
        self.url = match.group(0)
        self.port = int(re.search(r":(\d+)/", self.url).group(1))

    def command(self, text):
        assert self.recording
        self.process.stdin.write(text + "\n")
        self.process.stdin.flush()
        return json.loads(self.process.stdout.readline())

    def stats(self):
        return self.command("stats")

    def reset(self):
        return self.command("reset")

    def stop(self):
        if self.process.poll() is None:
            if self.recording:
                self.process.stdin.close()
            else:
                self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


class Postgres:
    """The PostgreSQL server of the store benchmarks: $SKEIN_BENCH_POSTGRES_URL when set, else a
    server already answering where `scripts/postgres` puts one, else one `scripts/postgres start`
    starts now (and `close` stops: only a server this harness started). Scratch databases are
    made with `psql` and dropped by `close`. `Postgres.open` returns None, with the reason in
    `Postgres.missing`, when there is no server to use."""

    missing = ""

    def __init__(self, url, script, started):
        self.url = url
        self.script = script
        self.started = started
        self.databases = []
        self.psql = shutil.which("psql") or next(iter(sorted(glob.glob("/usr/lib/postgresql/*/bin/psql"))[::-1]), None)
        self.postmaster = self._postmaster()

    @classmethod
    def open(cls, root, install=True):
        server = cls._open(root, install)
        if server is None:
            return None
        try:
            server.sql("SELECT 1")
        except (RuntimeError, OSError) as error:
            cls.missing = f"cannot use {server.masked()}: " + (str(error).strip().splitlines() or ["?"])[0]
            server.close()
            return None
        return server

    def masked(self):
        parts = urllib.parse.urlsplit(self.url)
        if parts.password:
            parts = parts._replace(netloc=parts.netloc.replace(":" + parts.password + "@", ":***@"))
        return urllib.parse.urlunsplit(parts)

    @classmethod
    def _open(cls, root, install):
        script = os.path.join(root, "scripts", "postgres")
        url = os.environ.get("SKEIN_BENCH_POSTGRES_URL")
        if url:
            return cls(url, script, started=False)
        if subprocess.run([script, "status"], capture_output=True).returncode == 0:
            return cls(subprocess.run([script, "url"], capture_output=True, text=True).stdout.strip(), script, False)
        if not install and not glob.glob("/usr/lib/postgresql/*/bin/initdb"):
            cls.missing = "PostgreSQL is not installed (scripts/postgres install, or set SKEIN_BENCH_POSTGRES_URL)"
            return None
        started = subprocess.run([script, "start"], capture_output=True, text=True)
        if started.returncode != 0:
            cls.missing = "scripts/postgres start failed: " + (started.stderr.strip().splitlines() or ["?"])[-1]
            return None
        return cls(started.stdout.strip().splitlines()[-1], script, started=True)

    def sql(self, statement, database=None):
        if not self.psql:
            raise RuntimeError("no psql to make the benchmark's databases with")
        result = subprocess.run([self.psql, self.database_url(database) if database else self.url, "-X", "-qAt",
                                 "-v", "ON_ERROR_STOP=1", "-c", statement], capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"psql: {statement}: {result.stderr.strip()}")
        return result.stdout.strip()

    def database_url(self, name):
        parts = urllib.parse.urlsplit(self.url)
        return urllib.parse.urlunsplit(parts._replace(path="/" + name))

    def create(self, name):
        """A new, empty database: its store URL."""
        self.sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        self.sql(f"CREATE DATABASE {name}")
        self.databases.append(name)
        return self.database_url(name)

    def drop(self, name):
        self.sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        if name in self.databases:
            self.databases.remove(name)

    def transactions(self, name):
        """The transactions committed or rolled back in database `name` so far (each of the store's
        statements is one), once the processes connected to it are gone (they report at exit)."""
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and \
                self.sql(f"SELECT count(*) FROM pg_stat_activity WHERE datname = '{name}'") != "0":
            time.sleep(0.05)
        return int(self.sql(f"SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = '{name}'"))

    def _postmaster(self):
        """The server's main process, when it runs on this machine and /proc shows it: the
        parent of its checkpointer."""
        try:
            pid = int(self.sql("SELECT pid FROM pg_stat_activity WHERE backend_type = 'checkpointer'"))
            with open(f"/proc/{pid}/stat") as f:
                return int(f.read().rsplit(")", 1)[1].split()[1])
        except (RuntimeError, ValueError, OSError, IndexError):
            return None

    def cpu_seconds(self):
        """The CPU time the whole server has used so far (the postmaster, its live processes, and the
        ones that ended), or None. Every client's work counts, not only the benchmark's."""
        if self.postmaster is None:
            return None
        tick = os.sysconf("SC_CLK_TCK")
        total = 0
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            pid, ppid = int(entry), int(fields[1])
            if pid == self.postmaster:
                total += sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
            elif ppid == self.postmaster:
                total += int(fields[11]) + int(fields[12])
        return total / tick

    def close(self):
        for name in list(self.databases):
            try:
                self.drop(name)
            except RuntimeError:
                pass
        if self.started:
            subprocess.run([self.script, "stop"], capture_output=True)


# ---------------------------------------------------------------------------------------------
# Pipelines and datasets


def provider_header(url, name="bench-pipeline", rpm=None, max_tokens=16, ca_file=None):
    lines = ["version: 1", f"name: {name}", "providers:", "  bench:", f"    base_url: {url}"]
    if rpm:
        lines.append(f"    requests_per_minute: {rpm}")
    if ca_file:
        lines.append(f"    ca_file: {ca_file}")
    lines += ["defaults:", "  provider: bench", "  model: test-model", "  temperature: 0.2", f"  max_tokens: {max_tokens}"]
    return lines


def fanout_pipeline(path, url, rpm=None, ca_file=None):
    """One for_each step: item i asks "Summarize item i in one word." (the peers send the same)."""
    lines = provider_header(url, "bench-fanout", rpm=rpm, ca_file=ca_file)
    lines += [
        "inputs:",
        "  items: {type: array, items: {type: integer}}",
        "steps:",
        "  summarize:",
        '    for_each: "{{ inputs.items }}"',
        "    as: item",
        '    prompt: "Summarize item {{ item }} in one word."',
        "outputs:",
        '  count: "{{ steps.summarize.output | length }}"',
    ]
    write(path, lines)


def items_file(path, count):
    with open(path, "w") as f:
        json.dump({"items": list(range(count))}, f)


def layered_dag(layers, width, seed=11):
    """A layered DAG: every step of layer k > 0 needs 2 or 3 random steps of layer k - 1."""
    rng = random.Random(seed)
    steps = []
    previous = []
    for layer in range(layers):
        current = []
        for _ in range(width):
            name = f"s{len(steps)}"
            needs = [] if layer == 0 else sorted(rng.sample(previous, rng.choice([2, 3])), key=lambda s: int(s[1:]))
            steps.append({"name": name, "needs": needs, "layer": layer})
            current.append(name)
        previous = current
    return steps


def dag_pipeline(path, url, steps):
    lines = provider_header(url, "bench-dag", max_tokens=8)
    lines += ["inputs:", "  topic: {type: string, default: rivers}", "steps:"]
    for step in steps:
        lines.append(f"  {step['name']}:")
        if not step["needs"]:
            lines.append(f'    prompt: "[{step["name"]}] Write about {{{{ inputs.topic }}}}"')
        else:
            parts = " and ".join(f"{{{{ steps.{need}.output }}}}" for need in step["needs"])
            lines.append(f'    prompt: "[{step["name"]}] Combine {parts}"')
    last = [s["name"] for s in steps if s["layer"] == steps[-1]["layer"]]
    lines.append("outputs:")
    lines.append(f'  last: "{{{{ steps.{last[-1]}.output }}}}"')
    write(path, lines)


def critical_path(steps, seconds):
    """The longest path through the DAG, each step weighing its server time."""
    finish = {}
    for step in steps:  # steps are in topological order
        finish[step["name"]] = seconds[step["name"]] + max((finish[n] for n in step["needs"]), default=0.0)
    return max(finish.values())


def stream_pipeline(path, url):
    lines = provider_header(url, "bench-stream", max_tokens=512)
    lines += ["inputs:", "  text: {type: string}", "steps:", "  answer:", '    prompt: "{{ inputs.text }}"',
              "outputs:", '  answer: "{{ steps.answer.output }}"']
    write(path, lines)


def dataset_pipeline(path, url):
    """The 3-step pipeline of the dataset benchmark: summarize, translate, headline."""
    lines = provider_header(url, "bench-dataset", max_tokens=12)
    lines += [
        "inputs:",
        "  text: {type: string}",
        "steps:",
        "  summary:",
        '    prompt: "Summarize in one line: {{ inputs.text }}"',
        "  french:",
        '    prompt: "Translate into French: {{ steps.summary.output }}"',
        "  headline:",
        '    prompt: "A headline for: {{ steps.summary.output }} / {{ steps.french.output }}"',
        "outputs:",
        '  headline: "{{ steps.headline.output }}"',
        '  french: "{{ steps.french.output }}"',
    ]
    write(path, lines)


def dataset_file(path, rows):
    words = ["river", "delta", "harbor", "market", "signal", "orbit", "meadow", "lantern", "copper", "glacier"]
    with open(path, "w") as f:
        for i in range(rows):
            text = f"Row {i}: a note about the {words[i % 10]} and the {words[(i // 10) % 10]} near site {i % 977}."
            f.write(json.dumps({"id": i, "text": text}) + "\n")


def remove_files(*paths):
    """Deletes the files that exist among `paths`."""
    for path in paths:
        if os.path.exists(path):
            os.remove(path)


def store_files(store):
    """A SQLite store's files: the database, its WAL and its shared-memory index."""
    return [store, store + "-wal", store + "-shm"]


def write(path, lines):
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


# ---------------------------------------------------------------------------------------------
# Streaming probe


def stream_probe(skein_cmd, upstream_port, cwd, env, timeout=60):
    """Measures the time from a stream event leaving the server to Skein printing its text.

    A one-connection TCP relay sits between Skein and the test server. Each chunk of the
    server's reply is forwarded at once and stamped right after it is handed to the kernel;
    the relay parses the SSE events it carries and notes the running length of the content
    deltas. Skein runs with `--stream STEP`, its stderr a pipe read by the same loop: a
    delta counts as printed when the streamed text on stderr first reaches its end. Both
    stamps come from one monotonic clock in one process. What is measured: the loopback
    hop, Skein's parse and print, and the pipe (a floor of a few tens of microseconds that
    any client pays).

    `skein_cmd` is a function of the relay's base URL returning the command line.
    Returns the per-delta latencies in seconds.
    """
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    relay_url = f"http://127.0.0.1:{listener.getsockname()[1]}/v1"
    process = subprocess.Popen(skein_cmd(relay_url), cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ, "accept")
    stderr_fd = process.stderr.fileno()
    os.set_blocking(stderr_fd, False)
    selector.register(stderr_fd, selectors.EVENT_READ, "stderr")
    pairs = {}  # socket -> peer socket
    upstreams = set()
    response = bytearray()
    deltas = []  # (sent_ns, cumulative content bytes)
    content_bytes = 0
    printed = bytearray()
    prints = []  # (received_ns, cumulative stderr bytes)
    stream_start = None
    deadline = time.monotonic() + timeout
    stderr_open = True
    while stderr_open and time.monotonic() < deadline:
        for key, _ in selector.select(timeout=0.5):
            tag = key.data
            if tag == "accept":
                client, _ = listener.accept()
                upstream = socket.create_connection(("127.0.0.1", upstream_port))
                for s in (client, upstream):
                    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                pairs[client] = upstream
                pairs[upstream] = client
                upstreams.add(upstream)
                selector.register(client, selectors.EVENT_READ, "sock")
                selector.register(upstream, selectors.EVENT_READ, "sock")
            elif tag == "stderr":
                chunk = os.read(stderr_fd, 65536)
                now = time.perf_counter_ns()
                if not chunk:
                    stderr_open = False
                    selector.unregister(stderr_fd)
                    continue
                printed += chunk
                prints.append((now, len(printed)))
            else:
                sock = key.fileobj
                data = sock.recv(65536)
                peer = pairs.get(sock)
                if not data:
                    selector.unregister(sock)
                    sock.close()
                    if peer is not None and peer.fileno() >= 0:
                        try:
                            peer.shutdown(socket.SHUT_WR)
                        except OSError:
                            pass
                    continue
                peer.sendall(data)
                now = time.perf_counter_ns()
                if sock in upstreams:
                    response += data
                    while True:
                        end = response.find(b"\n\n")
                        if end < 0:
                            break
                        event = bytes(response[:end])
                        del response[:end + 2]
                        for line in event.split(b"\n"):
                            if line.startswith(b"data: {"):
                                try:
                                    choice = json.loads(line[6:])["choices"][0]
                                except (ValueError, KeyError, IndexError):
                                    continue
                                text = (choice.get("delta") or {}).get("content") or ""
                                if text:
                                    content_bytes += len(text.encode())
                                    deltas.append((now, content_bytes))
    process.wait(timeout=30)
    listener.close()
    for sock in list(pairs):
        try:
            sock.close()
        except OSError:
            pass
    if process.returncode != 0:
        raise RuntimeError(f"skein --stream exited {process.returncode}: {printed[-2000:].decode(errors='replace')}")
    # The streamed text starts after the "started" line of the step.
    marker = printed.find(b" started\n")
    if marker < 0:
        raise RuntimeError("no 'started' line in skein's stderr: " + printed[:500].decode(errors="replace"))
    stream_start = marker + len(b" started\n")
    latencies = []
    cursor = 0
    for sent, cumulative in deltas:
        target = stream_start + cumulative
        while cursor < len(prints) and prints[cursor][1] < target:
            cursor += 1
        if cursor == len(prints):
            break
        latencies.append((prints[cursor][0] - sent) / 1e9)
    return latencies, len(deltas)
