"""Proof of work in the browser: the page's plain-JavaScript SHA-256 (in its Web Worker)
against Web Crypto's `crypto.subtle.digest`, in headless Chromium.

    .venv/bin/python bench/web_pow.py [--bits 18] [--challenges 20]

Starts `takedown serve` on a free port in a temporary directory, opens the report page in
Debian's Chromium (/usr/bin/chromium, or TAKEDOWN_CHROMIUM) and prints hashes per second and
the time per challenge for both. Timings depend on the machine and on what else runs on it.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import httpx
from playwright.sync_api import sync_playwright

from takedown.registry.pow import leading_zero_bits

CHROMIUM = os.environ.get("TAKEDOWN_CHROMIUM", "/usr/bin/chromium")

WEB_CRYPTO_RATE = """async (count) => {
    const encoder = new TextEncoder();
    const started = performance.now();
    for (let i = 0; i < count; i++) {
        await crypto.subtle.digest('SHA-256', encoder.encode(`challenge-text:${i}`));
    }
    return count / ((performance.now() - started) / 1000);
}"""

SOLVE = """async ([challenges, bits]) => {
    const { solve } = await import('/static/js/pow.js');
    const out = [];
    for (const challenge of challenges) {
        const started = performance.now();
        const result = await solve(challenge, bits);
        out.push({ ...result, wall: performance.now() - started });
    }
    return out;
}"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bits", type=int, default=18)
    parser.add_argument("--challenges", type=int, default=20)
    args = parser.parse_args()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as workdir:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TAKEDOWN_")}
        server = subprocess.Popen(
            [sys.executable, "-m", "takedown.cli", "serve", "--port", str(port)],
            cwd=workdir,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            for _ in range(300):
                try:
                    if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.2)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=CHROMIUM, headless=True, args=["--no-sandbox"]
                )
                page = browser.new_page()
                page.goto(f"{url}/report")
                challenges = [secrets.token_urlsafe(64) for _ in range(args.challenges)]
                results = page.evaluate(SOLVE, [challenges, args.bits])
                rate = page.evaluate(WEB_CRYPTO_RATE, 50_000)
                browser.close()
        finally:
            server.terminate()
            server.wait(timeout=15)
    for challenge, result in zip(challenges, results, strict=True):
        digest = hashlib.sha256(f"{challenge}:{result['solution']}".encode()).digest()
        assert leading_zero_bits(digest) >= args.bits, "a solution does not solve its challenge"
    hashes = sum(r["hashes"] for r in results)
    seconds = sum(r["ms"] for r in results) / 1000
    walls = sorted(r["wall"] / 1000 for r in results)
    expected = 2**args.bits
    print(f"plain JS in a worker: {hashes / seconds / 1e6:.2f} M hashes/s")
    print(
        f"  {args.bits} bits over {len(results)} challenges: mean {statistics.fmean(walls):.2f} s, "
        f"median {statistics.median(walls):.2f} s, slowest {walls[-1]:.2f} s "
        f"(expected {expected / (hashes / seconds):.2f} s at this rate)"
    )
    print(f"Web Crypto digest, one await per hash: {rate / 1e6:.3f} M hashes/s")
    print(f"  expected time at {args.bits} bits: {expected / rate:.2f} s")


if __name__ == "__main__":
    main()
