"""`serve --replay FOLDER` serves the recordings in it and skips the other files, one warning
each (issue 27, point 9); a folder with no recording at all is still an error, and so is a
recording in it that is broken."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

from support.cli import WAIT, invoke
from support.serve import serve_flags, serving

URL = "http://127.0.0.1:8000/feed"
RECORDING = [
    {"format": "sse-cli recording", "version": 1},
    {"type": "request", "method": "GET", "url": URL, "headers": [], "body": None},
    {"type": "response", "status": 200, "reason": "OK", "url": URL, "headers": []},
    {"type": "event", "at_us": 0, "event": "message", "data": "hi", "id": "1", "retry": None},
    {"type": "end", "at_us": 10, "reason": "closed"},
]


def folder(tmp_path: Path, recording: bool = True) -> Path:
    where = tmp_path / "recordings"
    where.mkdir()
    (where / "notes.txt").write_text("what these recordings are\n")
    (where / "list.json").write_text('["not", "a", "recording"]\n')
    if recording:
        (where / "feed.jsonl").write_text("".join(json.dumps(r) + "\n" for r in RECORDING))
    return where


def test_a_folder_serves_its_recordings_and_warns_once_per_stray_file(tmp_path: Path) -> None:
    where = folder(tmp_path)
    settings, said = serve_flags("-q", "--replay", str(where), "--speed", "0")
    with serving(**settings) as server:
        with urllib.request.urlopen(f"{server.url}/feed", timeout=WAIT) as response:
            body = response.read()
    lines = said.splitlines()
    assert b"data: hi" in body
    warnings = [line for line in lines if "warning" in line]
    assert len(warnings) == 2, lines
    assert any("notes.txt: skipped" in line for line in warnings), warnings
    assert any("list.json: skipped" in line for line in warnings), warnings


def test_a_folder_without_a_recording_is_refused(tmp_path: Path) -> None:
    done = invoke("serve", "--port", "0", "--replay", str(folder(tmp_path, recording=False)))
    assert done.status == 2
    assert "the folder holds no recording" in done.stderr.splitlines()[-1]


def test_a_broken_recording_in_a_folder_still_stops_serve(tmp_path: Path) -> None:
    where = folder(tmp_path)
    with (where / "feed.jsonl").open("a") as f:
        f.write("not json\n")
    done = invoke("serve", "--port", "0", "--replay", str(where))
    assert done.status == 2
    assert "feed.jsonl:6: not a JSON line" in done.stderr
