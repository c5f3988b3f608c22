"""ClickHouse's HTTP interface over the ClickHouse 26 engine in-process (chdb): the part of it that the Rust
`clickhouse` crate and dbt-clickhouse's HTTP driver (clickhouse-connect) use, so they can talk to a modern engine
on a machine that cannot run the server.

    python chdb_http.py --port 8123 --path /tmp/data

- GET/POST /ping -> "Ok.".
- GET/POST /?query=...: the SQL is the `query` parameter followed by the body, as ClickHouse reads it; when the
  parameter is an INSERT ... FORMAT <fmt>, the body is the rows instead: written to a temp file and loaded with
  INSERT ... FROM INFILE (chdb has no request body to read from).
- `database`, `default_format` and every other parameter that is a setting are applied to the statement;
  transport parameters (`session_id`, `query_id`...) are accepted and ignored. A compressed insert body
  (`decompress=1`, the crate's default LZ4) is decompressed; answers are never compressed.
- An error answers 500 with ClickHouse's text and the X-ClickHouse-Exception-Code header.

One session, one statement at a time (chdb is not re-entrant): clients queue, as on a one-core server.
"""

import argparse
import json
import os
import re
import struct
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

import lz4.block
from chdb import session

# Parameters that steer the HTTP transport, not the query.
TRANSPORT = {
    "query", "database", "default_format", "session_id", "session_timeout", "session_check", "query_id",
    "compress", "decompress", "enable_http_compression", "wait_end_of_query", "send_progress_in_http_headers",
    "http_headers_progress_interval_ms", "buffer_size", "user", "password", "quota_key", "role", "client_protocol_version",
}
INSERT_WITH_DATA = re.compile(r"(?is)^\s*(INSERT\s+INTO\s+.+?)\s+FORMAT\s+(\w+)\s*$")
EXPLICIT_FORMAT = re.compile(r"(?is)\bFORMAT\s+\w+\s*;?\s*$")
ERROR_CODE = re.compile(r"Code:\s*(\d+)")


class Engine:
    def __init__(self, path):
        self.session = session.Session(path)
        self.lock = threading.Lock()
        self.scratch = tempfile.mkdtemp(prefix="chdb-http-")
        self.inserts = 0

    def run(self, params, body):
        """Returns (status, format, bytes)."""
        if params.get("decompress") == "1":
            body = decompress(body)
        sql = params.get("query", "")
        settings = {k: v for k, v in params.items() if k not in TRANSPORT and not k.startswith("param_")}
        fmt = params.get("default_format") or "TabSeparated"
        with self.lock:
            database = params.get("database")
            self.session.query(f"USE `{database.replace('`', '')}`" if database else "USE default")
            for name, value in settings.items():
                self.session.query(f"SET {name} = {quote(value)}")
            try:
                insert = INSERT_WITH_DATA.match(sql) if body else None
                if insert:
                    self.inserts += 1
                    path = os.path.join(self.scratch, f"insert-{self.inserts}")
                    with open(path, "wb") as rows:
                        rows.write(body)
                    try:
                        self.session.query(f"{insert.group(1)} FROM INFILE '{path}' FORMAT {insert.group(2)}")
                    finally:
                        os.remove(path)
                    return 200, fmt, b""
                if INSERT_WITH_DATA.match(sql):
                    raise ValueError("Code: 108. No data to insert")
                if body:
                    sql = f"{sql}\n{body.decode()}" if sql else body.decode()
                if not EXPLICIT_FORMAT.search(sql):
                    result = self.session.query(sql, fmt)
                else:
                    result = self.session.query(sql)
                return 200, fmt, result.bytes()
            finally:
                for name in settings:
                    self.session.query(f"SET {name} = DEFAULT")


def decompress(body):
    """A body in ClickHouse's compressed block format (`decompress=1`): blocks of a 16-byte checksum, a method
    byte, the compressed size (with the 9-byte header) and the plain size, then the data. LZ4 and none only."""
    plain, at = [], 0
    while at < len(body):
        method = body[at + 16]
        compressed, size = struct.unpack_from("<II", body, at + 17)
        data = body[at + 25:at + 16 + compressed]
        if method == 0x82:
            plain.append(lz4.block.decompress(data, uncompressed_size=size))
        elif method == 0x02:
            plain.append(data)
        else:
            raise ValueError(f"Code: 1001. compression method 0x{method:02x} is not supported by this front (LZ4 only)")
        at += 16 + compressed
    return b"".join(plain)


def quote(value):
    if re.fullmatch(r"-?\d+(\.\d+)?", value):
        return value
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def handler(engine):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def answer(self, status, body, headers=()):
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def body(self):
            # The clickhouse crate streams inserts with chunked transfer encoding.
            if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                chunks = []
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass  # trailers
                        return b"".join(chunks)
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def serve(self):
            url = urlsplit(self.path)
            body = self.body()
            if url.path.rstrip("/") in ("/ping", "/replicas_status"):
                return self.answer(200, b"Ok.\n")
            params = dict(parse_qsl(url.query, keep_blank_values=True))
            try:
                status, fmt, result = engine.run(params, body)
            except Exception as error:  # noqa: BLE001 - every failure goes back to the client, as ClickHouse's would
                text = str(error).strip()
                code = ERROR_CODE.search(text)
                return self.answer(500, (text + "\n").encode(), [
                    ("X-ClickHouse-Exception-Code", code.group(1) if code else "1001"),
                    ("Content-Type", "text/plain; charset=UTF-8"),
                ])
            return self.answer(status, result, [
                ("X-ClickHouse-Format", fmt),
                ("X-ClickHouse-Timezone", "UTC"),
                ("X-ClickHouse-Summary", json.dumps({"read_rows": "0", "written_rows": "0"})),
                ("Content-Type", "application/octet-stream"),
            ])

        do_GET = serve
        do_POST = serve

    return Handler


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", required=True, help="the engine's data directory")
    args = parser.parse_args()
    os.environ["TZ"] = "UTC"
    engine = Engine(args.path)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), handler(engine))
    print(f"chdb {engine.session.query('SELECT version()', 'TSV').bytes().decode().strip()} on port {args.port}",
          file=sys.stderr, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
