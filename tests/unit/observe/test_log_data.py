"""The log viewer's windows of a log file: tail, the page above, the page below, held-back lines."""

from __future__ import annotations

from pathlib import Path

from tradewind.observe.ui.log_data import read_after, read_before


def _log(tmp_path: Path, lines: list[str], tail: str = "") -> Path:
    path = tmp_path / "attempt=1.log"
    path.write_bytes(("".join(f"{line}\n" for line in lines) + tail).encode())
    return path


def test_tail_is_the_last_lines_with_their_byte_offsets(tmp_path: Path) -> None:
    path = _log(tmp_path, [f"line {i}" for i in range(10)])
    lines, start, end = read_before(path, 1 << 40, max_lines=3)
    assert [text for _, text in lines] == ["line 7", "line 8", "line 9"]
    data = path.read_bytes()
    assert all(data[offset:].startswith(text.encode()) for offset, text in lines)
    assert (start, end) == (lines[0][0], len(data))


def test_pages_above_and_below_join_without_gaps_or_repeats(tmp_path: Path) -> None:
    path = _log(tmp_path, [f"é{i}" * (i % 7 + 1) for i in range(500)])
    seen: list[str] = []
    before = 1 << 40
    while True:
        lines, start, _ = read_before(path, before, max_lines=37, window=300)
        if not lines:
            break
        seen[:0] = [text for _, text in lines]
        before = start
        if start == 0:
            break
    assert seen == [f"é{i}" * (i % 7 + 1) for i in range(500)]
    forward: list[str] = []
    after = 0
    while True:
        lines, _, end = read_after(path, after, still_writing=False, max_lines=41, window=250)
        if not lines:
            break
        forward += [text for _, text in lines]
        after = end
    assert forward == seen


def test_a_running_try_holds_back_its_partial_last_line(tmp_path: Path) -> None:
    path = _log(tmp_path, ["done"], tail="half a li")
    lines, _, end = read_after(path, 0, still_writing=True)
    assert [text for _, text in lines] == ["done"] and end == 5
    lines, _, _ = read_after(path, 0, still_writing=False)
    assert [text for _, text in lines] == ["done", "half a li"]


def test_a_missing_file_is_an_empty_window(tmp_path: Path) -> None:
    assert read_before(tmp_path / "none.log", 100) == ([], 0, 0)
    assert read_after(tmp_path / "none.log", 0, still_writing=True) == ([], 0, 0)


def test_a_line_longer_than_the_window_is_read_in_pieces_while_the_try_writes(tmp_path: Path) -> None:
    # No newline within the window and more bytes after it: waiting for the line end would stall
    # the viewer forever, so the window-long piece is returned (as the REST log endpoint does).
    path = tmp_path / "long.log"
    path.write_bytes(b"x" * 30)
    lines, start, end = read_after(path, 0, still_writing=True, window=10)
    assert (start, end) == (0, 10) and len(lines) == 1
    assert read_after(path, 20, still_writing=True, window=10)[2] == 20  # the unfinished tail waits
