#!/usr/bin/env python3
"""phishgate, Rspamd and SpamAssassin side by side on exactly the same messages.

Each tool runs as its daemon on loopback with network checks off, one worker,
and gets every message over its own protocol, one at a time from this script
(so "messages/s" is per core): phishgate and Rspamd over HTTP /checkv2, and
SpamAssassin's spamd over the spamc protocol. Default thresholds everywhere:

- phishgate: detected = any action but accept;
- Rspamd: detected = any action but "no action" (greylist, add header,
  rewrite subject, soft reject, reject);
- SpamAssassin: detected = score >= required_score (5.0).

Usage (as root, from the repository; installs rspamd, spamassassin, spamd):

    scripts/compare.py                       # the held-out test split of ../shared/corpus
    scripts/compare.py --limit 300           # at most 300 messages per class
    scripts/compare.py --phish DIR --spam DIR --ham DIR --split all

The file list comes from `phishgate eval --split test --list` so every tool
sees exactly the messages phishgate is evaluated on. Prints one Markdown
table; `--json FILE` writes the numbers.

No network, and no waiting for it. This machine has no network, and a lookup
that waits for a time-out would measure the time-out, not the filter. So:

- Every tool's resolver is a stub on loopback started by this script, which
  answers every query at once with REFUSED (an error: no module reads it as
  "not listed" or "does not exist") and counts the queries; the count is
  printed per tool and must be 0. (Answering NXDOMAIN would instead make
  checks such as Rspamd's "sender domain has no A/MX" fire on every message.)
- Rspamd: every module that does a network lookup is disabled (RSPAMD_OFF
  below): DNS blocklists and URL/e-mail lists (rbl, which also runs the
  SURBL/URIBL/DBL and e-mail rules, surbl, emails), SPF, DKIM, DMARC and ARC
  (their records come from DNS, and whitelist builds on them), ASN and MX
  lookups (asn, mx_check), fuzzy hashes (fuzzy_check), DCC, Razor, Pyzor and
  other scanners (dcc, external_services, antivirus), everything that needs
  Redis, of which none runs here (greylist, ratelimit, replies, neural,
  reputation, history_redis, url_redirector, ip_score, clustering, bayes_expiry,
  dynamic_conf; the Bayes classifier turns itself off without Redis), exporters
  (clickhouse, elastic, metadata_exporter, metric_exporter), multimap (its
  default rules are freemail and disposable-address lists fetched over HTTPS),
  bimi, p0f, spamtrap, dkim_signing and arc_signing, and once_received (it
  resolves the PTR of the sending IP it finds in Received; a failed lookup
  adds RDNS_NONE, an artefact of having no network). Kept, being local:
  the phishing module's link-text/target check (PHISHING), with its PhishTank
  DNS lookups and OpenPhish feed off and only the local redirector list;
  hfilter with its DNS checks (HELO, envelope-sender and Message-ID hosts)
  off; mime_types and mid with their packaged maps (not refreshed from
  maps.rspamd.com); regexp rules, maillist, chartable and the rest of the
  default configuration. The Rspamd worker is measured once it has loaded its
  Hyperscan database.
- SpamAssassin: spamd -L (local tests only: no DNSBL, URIBL, Razor, Pyzor or
  DCC), and its resolver pointed at the stub too (dns_server). Bayes off
  (use_bayes 0): there is no trained database, so it never scored, and spamd
  running as nobody only tried and failed to auto-learn on every message (as
  Rspamd's Bayes, which needs Redis).
- phishgate: corpus/phishgate.toml as shipped, which enables no network check.
"""

import argparse
import collections
import datetime
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Set by main() once built: cargo's target directory (CARGO_TARGET_DIR
# included) / release / phishgate.
BIN = None


def say(*a):
    print("==>", *a, file=sys.stderr, flush=True)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, proc, what, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{what} exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"{what} did not listen on 127.0.0.1:{port} within {timeout} s")


class DnsStub:
    """A DNS server on 127.0.0.1 that answers every query at once with REFUSED
    and counts them by name and type, so no tool waits on a lookup and any
    lookup that still happens is seen."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.lock = threading.Lock()
        self.queries = collections.Counter()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                data, peer = self.sock.recvfrom(4096)
            except OSError:
                return
            if len(data) < 12:
                continue
            labels, i = [], 12
            while i < len(data) and data[i] != 0 and len(labels) < 128:
                n = data[i]
                labels.append(data[i + 1:i + 1 + n].decode("ascii", "replace"))
                i += 1 + n
            question = data[12:i + 5] if i + 5 <= len(data) else b""
            qtype = int.from_bytes(data[i + 1:i + 3], "big") if question else 0
            with self.lock:
                self.queries[f"{'.'.join(labels)} type {qtype}"] += 1
            # Same id, opcode and RD; QR, RA, RCODE 5 (REFUSED); the question
            # echoed, no records.
            flags = bytes([0x80 | (data[2] & 0x79), 0x80 | 5])
            counts = (1 if question else 0).to_bytes(2, "big") + bytes(6)
            self.sock.sendto(data[:2] + flags + counts + question, peer)

    def take(self):
        """The queries since the last call."""
        with self.lock:
            q, self.queries = self.queries, collections.Counter()
        return q

    def close(self):
        self.sock.close()


def ensure_packages():
    missing = []
    for p in ["rspamd", "spamassassin", "spamd", "spamc"]:
        r = subprocess.run(["dpkg", "-s", p], capture_output=True, text=True)
        if "Status: install ok installed" not in r.stdout:
            missing.append(p)
    if not missing:
        return
    say("installing", " ".join(missing))
    policy = "/usr/sbin/policy-rc.d"
    made = False
    if not os.path.exists(policy):
        with open(policy, "w") as f:
            f.write("#!/bin/sh\nexit 101\n")
        os.chmod(policy, 0o755)
        made = True
    try:
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
        subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing],
                       check=True, env=env)
    finally:
        if made:
            os.remove(policy)


def message_list(args):
    """(path, class) pairs: phishgate eval's split, so all tools see the same files."""
    cmd = [BIN, "eval", "--list", "--split", args.split, "--seed", str(args.seed)]
    for flag in ("phish", "spam", "ham"):
        for d in getattr(args, flag):
            cmd += [f"--{flag}", d]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    items = []
    per = {}
    for line in out.splitlines():
        cls, path = line.split("\t", 1)
        if args.limit and per.get(cls, 0) >= args.limit:
            continue
        per[cls] = per.get(cls, 0) + 1
        items.append((path, cls))
    return items


# ----------------------------------------------------------------- the tools

def post_checkv2(port, raw):
    req = urllib.request.Request(f"http://127.0.0.1:{port}/checkv2", data=raw, method="POST",
                                 headers={"Rcpt": "vanthu@laocai.gov.vn"})
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.loads(r.read())


MODEL = None


def start_phishgate(tmp, dns):
    port = free_port()
    conf = os.path.join(tmp, "phishgate.toml")
    with open(os.path.join(REPO, "corpus", "phishgate.toml")) as f:
        org = f.read()
    with open(conf, "w") as f:
        f.write(org + f'\n[listen]\nhttp = "127.0.0.1:{port}"\nmilter = "off"\nsmtp = "off"\n'
                f'\n[dns]\nservers = ["127.0.0.1:{dns.port}"]\n')
        if MODEL:
            f.write(f'\n[classifier]\nmodel = "{MODEL}"\n')
    log = open(os.path.join(tmp, "phishgate.log"), "w")
    p = subprocess.Popen([BIN, "serve", "--config", conf, "--data-dir", os.path.join(tmp, "pg-data")],
                         stdout=log, stderr=log)
    wait_port(port, p, "phishgate serve")

    def check(raw):
        v = post_checkv2(port, raw)
        return v["action"] != "no action", v["action"] == "reject", float(v.get("score", 0))
    return p, check


# Rspamd modules that look things up on the network (DNS, HTTP, Redis) or
# only feed such lookups; see the header for why each.
RSPAMD_OFF = ["rbl", "surbl", "emails", "spf", "dkim", "dmarc", "arc", "whitelist", "asn",
              "mx_check", "fuzzy_check", "dcc", "external_services", "antivirus",
              "greylist", "ratelimit", "replies", "neural", "reputation", "history_redis",
              "url_redirector", "ip_score", "clustering", "bayes_expiry", "dynamic_conf",
              "clickhouse", "elastic", "metadata_exporter", "metric_exporter", "multimap",
              "bimi", "p0f", "spamtrap", "dkim_signing", "arc_signing", "spamassassin",
              "once_received"]

# Local modules kept, with their network parts off.
RSPAMD_OVERRIDES = {
    # PHISHING (link text naming another host than the link) stays; the
    # PhishTank DNS lookups, the OpenPhish feed and the redirector and
    # whitelist maps fetched over HTTPS go.
    "phishing": ('phishtank_enabled = false;\nopenphish_enabled = false;\n'
                 'exceptions = { REDIRECTOR_FALSE = ["${CONFDIR}/maps.d/redirectors.inc"]; };\n'),
    # hfilter's HELO, envelope-sender and Message-ID checks resolve host
    # names; its URL-only, hostname and recipient checks are local.
    "hfilter": "helo_enabled = false;\nfrom_enabled = false;\nmid_enabled = false;\n",
    # Their maps as packaged, not refreshed from maps.rspamd.com.
    "mime_types": 'file = ["${CONFDIR}/maps.d/mime_types.inc"];\n',
    "mid": 'source = { url = ["${CONFDIR}/maps.d/mid.inc"]; };\n',
}


def start_rspamd(tmp, dns):
    port = free_port()
    local = os.path.join(tmp, "rspamd-local")
    os.makedirs(os.path.join(local, "local.d"), exist_ok=True)
    os.makedirs(os.path.join(local, "override.d"), exist_ok=True)
    for d in ("run", "db", "log"):
        os.makedirs(os.path.join(tmp, "rspamd-" + d), exist_ok=True)
        shutil.chown(os.path.join(tmp, "rspamd-" + d), "_rspamd", "_rspamd")
    with open(os.path.join(local, "override.d", "worker-normal.inc"), "w") as f:
        f.write(f'bind_socket = "127.0.0.1:{port}";\ncount = 1;\n')
    with open(os.path.join(local, "override.d", "worker-controller.inc"), "w") as f:
        f.write(f'bind_socket = "127.0.0.1:{free_port()}";\ncount = 1;\n')
    with open(os.path.join(local, "override.d", "worker-proxy.inc"), "w") as f:
        f.write('enabled = false;\n')
    with open(os.path.join(local, "override.d", "worker-fuzzy.inc"), "w") as f:
        f.write('enabled = false;\n')
    for m in RSPAMD_OFF:
        with open(os.path.join(local, "override.d", f"{m}.conf"), "w") as f:
            f.write("enabled = false;\n")
    for m, conf in RSPAMD_OVERRIDES.items():
        with open(os.path.join(local, "override.d", f"{m}.conf"), "w") as f:
            f.write(conf)
    # Whatever still asks DNS gets the stub's instant REFUSED (and is
    # counted), never a time-out.
    with open(os.path.join(local, "local.d", "options.inc"), "w") as f:
        f.write(f'dns {{ nameserver = ["127.0.0.1:{dns.port}"]; timeout = 0.1s; retransmits = 0; }}\n'
                'local_addrs = ["127.0.0.0/8"];\n')
    log = open(os.path.join(tmp, "rspamd.log"), "w")
    cmd = ["rspamd", "-f", "-u", "_rspamd", "-g", "_rspamd", "-c", "/etc/rspamd/rspamd.conf",
           f"--var=LOCAL_CONFDIR={local}", f"--var=RUNDIR={tmp}/rspamd-run",
           f"--var=DBDIR={tmp}/rspamd-db", f"--var=LOGDIR={tmp}/rspamd-log"]
    p = subprocess.Popen(cmd, stdout=log, stderr=log)
    wait_port(port, p, "rspamd")
    # The worker answers at once but matches its regular expressions one by
    # one until hs_helper has compiled them for Hyperscan (seconds, in the
    # background): measure the worker as it runs for good.
    worker_log = os.path.join(tmp, "rspamd-log", "rspamd.log")
    deadline = time.time() + 180
    while time.time() < deadline:
        with open(worker_log, errors="replace") as f:
            if any("(normal)" in l and "hyperscan database" in l and "has been loaded" in l
                   for l in f):
                break
        time.sleep(0.5)
    else:
        say("rspamd: its worker did not report Hyperscan loaded within 180 s; measuring anyway")

    def check(raw):
        v = post_checkv2(port, raw)
        return v["action"] != "no action", v["action"] == "reject", float(v.get("score", 0))
    return p, check


def start_spamd(tmp, dns):
    port = free_port()
    log = open(os.path.join(tmp, "spamd.log"), "w")
    cmd = ["spamd", "-L", "--listen", f"127.0.0.1:{port}", "-u", "nobody", "--max-children", "1",
           "--min-children", "1", "--pidfile", os.path.join(tmp, "spamd.pid"), "-s", "stderr",
           "--nouser-config", f"--cf=dns_server 127.0.0.1:{dns.port}", "--cf=use_bayes 0"]
    p = subprocess.Popen(cmd, stdout=log, stderr=log)
    wait_port(port, p, "spamd")

    def check(raw):
        s = socket.create_connection(("127.0.0.1", port), timeout=120)
        s.sendall(b"CHECK SPAMC/1.5\r\nContent-length: %d\r\n\r\n" % len(raw) + raw)
        s.shutdown(socket.SHUT_WR)
        buf = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
        s.close()
        # "Spam: True ; 15.3 / 5.0"
        line = next((l for l in buf.decode("latin-1").split("\r\n") if l.startswith("Spam:")), "")
        if not line:
            raise RuntimeError("spamd: no Spam: line in " + buf[:200].decode("latin-1"))
        verdict, scores = line[5:].split(";")
        score = float(scores.split("/")[0])
        return verdict.strip() == "True", False, score
    return p, check


# ----------------------------------------------------------------- measuring

def run_tool(name, check, items):
    say(f"{name}: {len(items)} messages")
    # Warm up (rule compilation, caches) on a few messages, not measured.
    for path, _ in items[:5]:
        with open(path, "rb") as f:
            check(f.read())
    lat = []
    per = {}
    t0 = time.perf_counter()
    for path, cls in items:
        with open(path, "rb") as f:
            raw = f.read()
        s = time.perf_counter()
        detected, rejected, _score = check(raw)
        lat.append(time.perf_counter() - s)
        c = per.setdefault(cls, {"n": 0, "detected": 0, "rejected": 0})
        c["n"] += 1
        c["detected"] += int(detected)
        c["rejected"] += int(rejected)
    wall = time.perf_counter() - t0
    lat.sort()
    return {
        "messages": len(items),
        "msg_per_s": len(items) / wall if wall else 0.0,
        "p50_ms": statistics.median(lat) * 1000 if lat else 0.0,
        "p99_ms": lat[min(len(lat) - 1, int(round(0.99 * (len(lat) - 1))))] * 1000 if lat else 0.0,
        "classes": per,
    }


def pct(c, key):
    return 100.0 * c[key] / c["n"] if c and c["n"] else float("nan")


def table(results, items):
    counts = {}
    for _, cls in items:
        counts[cls] = counts.get(cls, 0) + 1
    lines = [
        "| tool | msg/s (1 core) | p50 | p99 | phishing detected | spam detected | ham flagged | ham rejected |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, r in results.items():
        c = r["classes"]
        lines.append(
            f"| {name} | {r['msg_per_s']:.0f} | {r['p50_ms']:.1f} ms | {r['p99_ms']:.1f} ms | "
            f"{pct(c.get('phish'), 'detected'):.1f}% | {pct(c.get('spam'), 'detected'):.1f}% | "
            f"{pct(c.get('ham'), 'detected'):.2f}% | "
            + (f"{pct(c.get('ham'), 'rejected'):.2f}%" if name != "SpamAssassin" else "n/a")
            + " |")
    head = (f"{len(items)} messages ({', '.join(f'{k} {v}' for k, v in sorted(counts.items()))}), "
            f"{datetime.date.today().isoformat()}, {os.cpu_count()} cores")
    return head + "\n\n" + "\n".join(lines)


def main():
    corpus = os.path.join(os.path.dirname(REPO), "shared", "corpus")
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--phish", action="append", default=[])
    ap.add_argument("--spam", action="append", default=[])
    ap.add_argument("--ham", action="append", default=[])
    ap.add_argument("--split", default="test", choices=["test", "train", "all"])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--limit", type=int, default=0, help="at most this many messages per class")
    ap.add_argument("--json", help="write the numbers here")
    ap.add_argument("--model", help="phishgate's model file (default: with --split test or train, "
                    "the development model trained on the train part only, made by "
                    "scripts/train-model --dev, since the shipped model learned from every message)")
    args = ap.parse_args()
    if not (args.phish or args.spam or args.ham):
        if not os.path.isdir(corpus):
            raise SystemExit(f"no corpus at {corpus}: give --phish/--spam/--ham folders")
        args.phish = [os.path.join(corpus, "phishing_pot", "phish"), os.path.join(corpus, "nazario", "phish")]
        args.spam = [os.path.join(corpus, "spamassassin", "spam")]
        args.ham = [os.path.join(corpus, "spamassassin", "ham")]
    if os.geteuid() != 0:
        raise SystemExit("run as root: the script installs packages and starts daemons as their users")
    ensure_packages()
    say("building phishgate (release)")
    subprocess.run(["cargo", "build", "--release", "--locked", "-p", "phishgate"], cwd=REPO, check=True)
    global BIN
    meta = subprocess.run(["cargo", "metadata", "--format-version", "1", "--no-deps", "--locked"],
                          cwd=REPO, capture_output=True, text=True, check=True).stdout
    BIN = os.path.join(json.loads(meta)["target_directory"], "release", "phishgate")
    items = message_list(args)
    if not items:
        raise SystemExit("no messages")
    tmp = tempfile.mkdtemp(prefix="phishgate-compare-")
    os.chmod(tmp, 0o755)
    global MODEL
    MODEL = args.model
    if MODEL is None and args.split != "all":
        MODEL = os.path.join(tmp, "dev-model.pgml")
        say("training the development model (train part only):", MODEL)
        subprocess.run([os.path.join(REPO, "scripts", "train-model"), "--dev", MODEL], cwd=REPO,
                       check=True)
    procs = []
    results = {}
    dns = DnsStub()
    try:
        for name, start in (("phishgate", start_phishgate), ("Rspamd", start_rspamd),
                            ("SpamAssassin", start_spamd)):
            p, check = start(tmp, dns)
            procs.append(p)
            try:
                dns.take()
                results[name] = run_tool(name, check, items)
                # Start-up lookups (none expected either) are not the
                # scans' and were dropped above.
                queries = dns.take()
                results[name]["dns_queries"] = sum(queries.values())
                say(f"{name}: {sum(queries.values())} DNS queries while scanning"
                    + "".join(f"\n    {n} x {q}" for q, n in queries.most_common(10)))
            finally:
                p.terminate()
                try:
                    p.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    p.kill()
    finally:
        dns.close()
        for p in procs:
            if p.poll() is None:
                p.kill()
        if os.environ.get("PHISHGATE_KEEP_COMPARE"):
            say("kept", tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print(table(results, items))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"date": datetime.datetime.now().isoformat(), "results": results}, f, indent=1)


if __name__ == "__main__":
    main()
