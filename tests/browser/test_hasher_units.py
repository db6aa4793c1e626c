"""Unit checks of the in-browser hasher's pieces, run in Chromium: MD5 against RFC 1321's
vectors, SHA-256 (Web Crypto and the streaming fallback) against FIPS 180 vectors, and the
hash worker's message protocol (with and without the page's warm-up)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from playwright.sync_api import Page

from takedown.hashing.fingerprint import fingerprint_file
from tests.browser.conftest import LiveServer
from tests.browser.hasher_page import PDQ_REFERENCE, hash_in_worker, run_module

RFC1321 = {
    "": "d41d8cd98f00b204e9800998ecf8427e",
    "a": "0cc175b9c0f1b6a831c399e269772661",
    "abc": "900150983cd24fb0d6963f7d28e17f72",
    "message digest": "f96b697d7cb7938d525a2f31aaf161d0",
    "abcdefghijklmnopqrstuvwxyz": "c3fcd3d76192e4007dfb496cca67e13b",
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789": (
        "d174ab98d277d9f5a5611c2c9f419d9f"
    ),
    "1234567890" * 8: "57edf4a22be3c955ac49da2e2107b67a",
}

SHA256_VECTORS = {
    "abc": "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq": (
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
    ),
}


def test_md5_matches_rfc_1321_vectors(page: Page, live_server: LiveServer) -> None:
    got = run_module(
        page,
        live_server,
        f"""const {{ md5Hex }} = await mod('md5.js');
        const vectors = {list(RFC1321)!r};
        return vectors.map((v) => md5Hex(new TextEncoder().encode(v)));""",
    )
    assert got == list(RFC1321.values())


def test_md5_streaming_equals_one_shot_on_uneven_chunks(
    page: Page, live_server: LiveServer
) -> None:
    data = bytes((i * 7 + (i >> 8)) & 255 for i in range(300_007))
    got = run_module(
        page,
        live_server,
        """const { Md5 } = await mod('md5.js');
        const data = new Uint8Array(300007).map((_, i) => (i * 7 + (i >> 8)) & 255);
        const m = new Md5();
        for (let at = 0; at < data.length; at += 777) m.update(data.subarray(at, at + 777));
        return m.hex();""",
    )
    assert got == hashlib.md5(data).hexdigest()


def test_sha256_web_crypto_and_streaming_match_known_vectors(
    page: Page, live_server: LiveServer
) -> None:
    got = run_module(
        page,
        live_server,
        f"""const {{ exactOfBytes, Sha256 }} = await mod('exact.js');
        const out = [];
        for (const v of {list(SHA256_VECTORS)!r}) {{
          const bytes = new TextEncoder().encode(v);
          out.push([(await exactOfBytes(bytes)).sha256, new Sha256().update(bytes).hex()]);
        }}
        return out;""",
    )
    assert got == [[h, h] for h in SHA256_VECTORS.values()]


def test_worker_protocol_progress_result_and_errors(
    page: Page, live_server: LiveServer, tmp_path: Path
) -> None:
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    text = tmp_path / "notes.txt"
    text.write_text("not a photo\n" * 100)
    photo = PDQ_REFERENCE / "bridge-mods" / "aaa-orig.jpg"
    messages = hash_in_worker(page, live_server, [photo, empty, text])

    first = messages[0]
    assert first["error"] is None
    assert first["result"]["kind"] == "image"
    progress = first["progress"]
    assert len(progress) >= 3
    totals = {total for _, total in progress}
    assert len(totals) == 1
    dones = [done for done, _ in progress]
    assert dones == sorted(dones)
    assert dones[-1] == progress[0][1]

    assert messages[1]["result"] is None
    assert messages[1]["error"]["code"] == "empty_file"
    assert messages[2]["result"] is None
    assert messages[2]["error"]["code"] == "not_media"
    assert "image or video" in messages[2]["error"]["message"]


def test_the_warm_up_runs_first_and_changes_no_result(page: Page, live_server: LiveServer) -> None:
    """The page asks the worker to warm up when it shows the file chooser; files posted
    meanwhile wait for it, and their fingerprints are those `takedown hash` gives."""
    photo = PDQ_REFERENCE / "bridge-mods" / "aaa-orig.jpg"
    [message] = hash_in_worker(page, live_server, [photo], warm=True)

    assert message["after_warm"], "the warm-up answers before the first file's messages"
    assert message["error"] is None
    expected = fingerprint_file(photo)
    assert message["result"]["md5"] == expected.md5
    assert [(s["value"], s["variant"]) for s in message["result"]["signals"]] == [
        (s.value, s.variant) for s in expected.signals
    ]
