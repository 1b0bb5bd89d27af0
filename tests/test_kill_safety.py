"""Kill-safety (issue 12, item 8; contract v4 section 3), a small sample of
`tests/kill_safety.py`: two real `townstat refresh` processes SIGKILLed with their whole
process group, one early (a cold refresh during ingest, cache entries half written) and one
during the publication into an existing warehouse after a change of the raw area. Each time
the warehouse right after the kill holds the previous state (or the whole new one), the next
refresh exits 0, every table equals a clean refresh of the same area, and the SQLite file
passes `PRAGMA integrity_check`. The full campaign (10 random kills of the county demo) is
run by hand: see `bench/README.md`."""

from __future__ import annotations

from tests.kill_safety import Campaign, Trigger, small_area


def test_a_killed_refresh_leaves_the_previous_state_and_the_next_one_publishes_the_clean_tables(tmp_path):
    raw = tmp_path / "raw"
    small_area(raw)
    lines: list[str] = []
    campaign = Campaign(tmp_path / "work", raw, gx=False, timeout=240, log=lines.append)
    try:
        campaign.setup(measure_incremental=False)
        early = campaign.round("cold", Trigger(step="ingest__tax"))
        publishing = campaign.round("changed", Trigger(step="warehouse__published"))
    finally:
        campaign.abort()
    report = campaign.table()
    print(report)

    assert early.killed and publishing.killed, report
    assert early.at_kill.startswith(("ingest__", "after ingest__")), report  # while the files are read
    assert early.after_kill == "absent", report  # a cold refresh killed: still no warehouse
    assert publishing.at_kill.startswith("warehouse__published"), report
    assert publishing.after_kill in ("previous", "new"), report
    assert early.ok and publishing.ok, report
    assert early.next_rc == publishing.next_rc == 0, report
