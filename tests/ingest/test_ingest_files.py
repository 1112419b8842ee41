"""Files that cannot be read at all are recorded in quarantine (line_no null); the rest of the day loads."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import duckdb
import pytest

from tests.conftest import DAY1, DAY2, DAY3, Landing, query, run_day

GOOD = {"event_id": "e1", "event_ts": "2026-10-01T10:00:00Z", "event_name": "page_view", "anonymous_id": "a1"}


class TestMisplacedFiles:
    """A file of an unknown type or outside a dt= folder is quarantined whole; later days wait their turn."""

    def test_quarantine_rows_and_file_errors(self, landing: Landing, warehouse: Path) -> None:
        landing.jsonl("web", DAY1, "good.jsonl", [GOOD])
        landing.text("web", DAY1, "notes.txt", "hello\n")
        (landing.root / "web" / "stray.jsonl").write_text("{}\n")
        (landing.root / "web" / "dt=2026-13-01").mkdir()
        (landing.root / "web" / "dt=2026-13-01" / "x.jsonl").write_text("{}\n")
        landing.jsonl("web", DAY2, "tomorrow.jsonl", [dict(GOOD, event_id="e2")])

        summary = run_day(landing, warehouse, DAY1)

        assert summary.file_errors == [
            "web/stray.jsonl: file is not inside a dt=YYYY-MM-DD folder",
            "web/dt=2026-10-01/notes.txt: unsupported file type (expected .jsonl, .jsonl.gz, .csv or .parquet)",
            "web/dt=2026-13-01/x.jsonl: folder dt=2026-13-01 is not a real date",
        ]
        assert query(
            warehouse,
            "select channel, source_file, line_no, raw, error, arrived_on from quarantine order by source_file",
        ) == [
            ("web", "web/dt=2026-10-01/notes.txt", None, None,
             "unsupported file type (expected .jsonl, .jsonl.gz, .csv or .parquet)", DAY1),
            ("web", "web/dt=2026-13-01/x.jsonl", None, None, "folder dt=2026-13-01 is not a real date", None),
            ("web", "web/stray.jsonl", None, None, "file is not inside a dt=YYYY-MM-DD folder", None),
        ]
        assert query(warehouse, "select event_id from events") == [("e1",)]

    def test_an_office_lock_file_is_skipped(self, landing: Landing, warehouse: Path) -> None:
        """Excel, open on a landing file, keeps an owner file beside it named ~$ and the file's name
        (162 bytes, the user's name in UTF-16): it was refused as "a CSV file needs a header line"
        and failed every run while the workbook stayed open."""
        landing.text("web", DAY1, "Book1.csv", "event_id,event_ts,event_name,anonymous_id\ne1,2026-10-01T10:00:00Z,page_view,a1\n")
        (landing.root / "web" / "dt=2026-10-01" / "~$Book1.csv").write_bytes(b"\x04Jane" + b"\x00" * 50 + "Jane".encode("utf-16-le"))
        summary = run_day(landing, warehouse, DAY1)
        assert summary.file_errors == []
        assert query(warehouse, "select event_id from events") == [("e1",)]
        assert query(warehouse, "select count(*) from quarantine") == [(0,)]

    def test_files_in_sub_folders_are_named_not_skipped(self, landing: Landing, warehouse: Path) -> None:
        """A file one or more folders too deep (hour=03/ under a dt= folder, a month folder of
        CRM exports) is not read, but is recorded with the reason; hidden folders stay hidden."""
        landing.jsonl("web", DAY1, "good.jsonl", [GOOD])
        day = landing.root / "web" / "dt=2026-10-01"
        (day / "hour=03" / "deeper").mkdir(parents=True)
        (day / "hour=03" / "part-0.jsonl").write_text("{}\n")
        (day / "hour=03" / "deeper" / "part-1.jsonl").write_text("{}\n")
        (day / ".tmp").mkdir()
        (day / ".tmp" / "upload.jsonl").write_text("{}\n")
        (landing.root / "identities" / "2026-10").mkdir(parents=True)
        (landing.root / "identities" / "2026-10" / "crm.csv").write_text("user_id,email\nu1,a@example.com\n")

        summary = run_day(landing, warehouse, DAY1)

        deep = "file is in a sub-folder of {}; landing files are read only directly inside it"
        assert summary.file_errors == [
            f"web/dt=2026-10-01/hour=03/part-0.jsonl: {deep.format('dt=2026-10-01/')}",
            f"web/dt=2026-10-01/hour=03/deeper/part-1.jsonl: {deep.format('dt=2026-10-01/')}",
            f"identities/2026-10/crm.csv: {deep.format('identities/')}",
        ]
        assert query(warehouse, "select source_file, arrived_on from quarantine order by 1") == [
            ("identities/2026-10/crm.csv", None),
            ("web/dt=2026-10-01/hour=03/deeper/part-1.jsonl", DAY1),
            ("web/dt=2026-10-01/hour=03/part-0.jsonl", DAY1),
        ]
        assert query(warehouse, "select event_id from events") == [("e1",)]

    def test_link_to_a_parent_is_named_not_followed(self, landing: Landing, warehouse: Path) -> None:
        """A link inside a dt= folder to a parent is named once, not followed round and round."""
        landing.jsonl("web", DAY1, "good.jsonl", [GOOD])
        (landing.root / "web" / "dt=2026-10-01" / "loop").symlink_to("..")

        summary = run_day(landing, warehouse, DAY1)

        assert summary.file_errors == [
            "web/dt=2026-10-01/loop: file is in a sub-folder of dt=2026-10-01/; landing files are read only "
            "directly inside it",
        ]
        assert query(warehouse, "select event_id from events") == [("e1",)]

    def test_broken_link_and_pipe_are_named_not_skipped(self, landing: Landing, warehouse: Path) -> None:
        """An entry of a dt= folder that is neither a file nor a folder (a link to nothing, a link
        loop, a named pipe) is recorded with the reason, and nothing tries to read it."""
        landing.jsonl("web", DAY1, "good.jsonl", [GOOD])
        day = landing.root / "web" / "dt=2026-10-01"
        (day / "gone.jsonl").symlink_to("moved-away.jsonl")
        (day / "self.jsonl").symlink_to("self.jsonl")
        os.mkfifo(day / "pipe.jsonl")

        summary = run_day(landing, warehouse, DAY1)

        assert summary.file_errors == [
            "web/dt=2026-10-01/gone.jsonl: link leads to no file (broken, or a loop); not read",
            "web/dt=2026-10-01/pipe.jsonl: not a regular file (a pipe, socket or device); not read",
            "web/dt=2026-10-01/self.jsonl: link leads to no file (broken, or a loop); not read",
        ]
        assert query(warehouse, "select source_file, line_no from quarantine order by 1") == [
            ("web/dt=2026-10-01/gone.jsonl", None),
            ("web/dt=2026-10-01/pipe.jsonl", None),
            ("web/dt=2026-10-01/self.jsonl", None),
        ]
        assert query(warehouse, "select event_id from events") == [("e1",)]

    def test_names_that_are_not_utf8_are_named_not_read(self, landing: Landing, warehouse: Path) -> None:
        """A file or folder whose name is not UTF-8 (a Latin-1 é) is recorded with the reason, its
        bad bytes written \\xe9; the run stopped with an encoding error and published nothing."""
        landing.jsonl("web", DAY1, "good.jsonl", [GOOD])
        day = landing.root / "web" / "dt=2026-10-01"
        good = (day / "good.jsonl").read_bytes()
        for name in (b"caf\xe9.jsonl", b"caf\xe9.csv", b"caf\xe9.txt"):
            (day / os.fsdecode(name)).write_bytes(good)
        (day / os.fsdecode(b"sub\xe9")).mkdir()
        (day / os.fsdecode(b"sub\xe9") / "x.parquet").write_bytes(b"")
        (landing.root / "identities").mkdir()
        (landing.root / "identities" / os.fsdecode(b"crm\xe9.csv")).write_text("user_id,email\nu1,a@example.com\n")
        (landing.root / os.fsdecode(b"stray\xe9.jsonl")).write_bytes(good)

        summary = run_day(landing, warehouse, DAY1)

        reason = "file name is not valid UTF-8 text (rename it); not read"
        names = ["identities/crm\\xe9.csv", "web/dt=2026-10-01/caf\\xe9.csv", "web/dt=2026-10-01/caf\\xe9.jsonl",
                 "web/dt=2026-10-01/caf\\xe9.txt", "web/dt=2026-10-01/sub\\xe9/x.parquet"]
        assert sorted(summary.file_errors) == [f"{name}: {reason}" for name in names]
        assert query(warehouse, "select source_file, line_no, error from quarantine order by 1") == [
            (name, None, reason) for name in names
        ]
        assert query(warehouse, "select event_id from events") == [("e1",)]
        assert any(n.startswith("stray\\xe9.jsonl: a file beside") for n in summary.notices), summary.notices

    def test_folder_that_cannot_be_listed_is_one_problem(self, tmp_path: Path) -> None:
        """A dt= folder the run may not list (no read permission; tests run as root, who may read
        anything, so a folder whose listing fails with ELOOP stands in) is one recorded problem
        with the reason, not the end of the night's run."""
        from journey_analytics.ingest import KINDS
        from journey_analytics.ingest._landing import _listing_problem, find_landing_files

        day = tmp_path / "web" / "dt=2026-10-01"
        day.mkdir(parents=True)
        (day / "good.jsonl").write_text("{}\n")
        assert _listing_problem(day) is None
        (tmp_path / "loop").symlink_to("loop")
        assert _listing_problem(tmp_path / "loop") == (
            "folder cannot be read (Too many levels of symbolic links); its files are not read"
        )
        if os.geteuid() != 0:  # as a user, the real case: a folder without read permission
            web = next(k for k in KINDS if k.name == "web")
            (day / "hour=03").mkdir()
            (day / "hour=03").chmod(0)  # deeper: named as the sub-folder it is
            try:
                files = find_landing_files(tmp_path, web, DAY1)
                day.chmod(0)
                files_unlisted_day = find_landing_files(tmp_path, web, DAY1)
            finally:
                day.chmod(0o755)
                (day / "hour=03").chmod(0o755)
            assert [(f.source_file, f.problem) for f in files] == [
                ("web/dt=2026-10-01/good.jsonl", None),
                ("web/dt=2026-10-01/hour=03", "file is in a sub-folder of dt=2026-10-01/; landing files are "
                 "read only directly inside it"),
            ]
            assert [(f.source_file, f.problem) for f in files_unlisted_day] == [
                ("web/dt=2026-10-01", "folder cannot be read (Permission denied); its files are not read")
            ]

    def test_folders_listed_but_not_entered_are_named(self, landing: Landing, warehouse: Path) -> None:
        """A folder the run may list but not enter (mode r-- without x: a day, a sub-folder of one,
        identities/) is one recorded problem, not the end of the run, which stopped at the first
        look at one of its files with "permission denied". (Run in a process of its own; as root,
        without the capabilities that let root enter any folder.)"""
        import json
        import shutil
        import subprocess
        import sys

        landing.jsonl("web", DAY1, "good.jsonl", [GOOD])
        landing.jsonl("web", date(2026, 9, 30), "earlier.jsonl", [dict(GOOD, event_id="e0")])
        (landing.root / "web" / "dt=2026-10-01" / "hour=03").mkdir()
        (landing.root / "web" / "dt=2026-10-01" / "hour=03" / "x.jsonl").write_text("{}\n")
        landing.text("identities", None, "crm.csv", "user_id,email\nu1,a@example.com\n")
        closed = [landing.root / "web" / "dt=2026-09-30", landing.root / "web" / "dt=2026-10-01" / "hour=03",
                  landing.root / "identities"]
        root = Path(__file__).resolve().parents[2]
        code = (
            "import json, sys\n"
            "from datetime import date\n"
            "from pathlib import Path\n"
            "from journey_analytics.config import Settings\n"
            "from journey_analytics.runs import run_day_in_process\n"
            "landing, warehouse = Path(sys.argv[1]), Path(sys.argv[2])\n"
            "s = run_day_in_process(date(2026, 10, 1), landing, warehouse, warehouse.parent / 'reports', Settings())\n"
            "print(json.dumps(sorted(s.file_errors)))\n"
        )
        drop = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search"] if os.geteuid() == 0 else []
        if drop and shutil.which("setpriv") is None:
            pytest.skip("setpriv (util-linux) is needed to run without root's file capabilities")
        for folder in closed:
            folder.chmod(0o644)
        try:
            result = subprocess.run(
                [*drop, sys.executable, "-c", code, str(landing.root), str(warehouse)],
                capture_output=True, text=True, timeout=300,
                env={**os.environ, "PYTHONPATH": f"{root / 'src'}:{root}"},
            )
        finally:
            for folder in closed:
                folder.chmod(0o755)
        assert result.returncode == 0, result.stderr[-2000:]
        cannot = "folder cannot be read (Permission denied); its files are not read"
        assert json.loads(result.stdout.strip().splitlines()[-1]) == [
            f"identities: {cannot}",
            f"web/dt=2026-09-30: {cannot}",
            "web/dt=2026-10-01/hour=03: file is in a sub-folder of dt=2026-10-01/; landing files are read only "
            "directly inside it",
        ]
        assert query(warehouse, "select event_id from events") == [("e1",)]

    def test_later_day_is_left_for_its_run(self, landing: Landing, warehouse: Path) -> None:
        landing.jsonl("web", DAY1, "today.jsonl", [GOOD])
        landing.jsonl("web", DAY2, "tomorrow.jsonl", [dict(GOOD, event_id="e2")])
        run_day(landing, warehouse, DAY1)
        assert query(warehouse, "select source_file from raw.ingested_files") == [("web/dt=2026-10-01/today.jsonl",)]


class TestFilesStillBeingUploaded:
    """A file under an uploader's temporary name (a.jsonl.tmp, renamed a.jsonl once written) is
    neither read nor refused: each run says it is there, in a notice, and the run after its
    rename reads it as any new file. Other names of no known type are still refused."""

    IN_FLIGHT = "still being written (a temporary upload name); read once it is renamed"

    def test_left_for_a_later_run_and_read_once_renamed(self, landing: Landing, warehouse: Path) -> None:
        landing.jsonl("web", DAY1, "good.jsonl", [GOOD])
        upload = landing.jsonl("web", DAY1, "a.jsonl.tmp", [dict(GOOD, event_id="e2"), dict(GOOD, event_id="e3")])
        landing.text("web", DAY1, "report.xlsx", "not ours\n")

        for day in (DAY1, DAY2):  # said on every run while it is there (an upload given up stays in sight)
            summary = run_day(landing, warehouse, day)
            assert summary.notices == [f"web/dt=2026-10-01/a.jsonl.tmp: {self.IN_FLIGHT}"]
            assert summary.file_errors == [
                "web/dt=2026-10-01/report.xlsx: unsupported file type (expected .jsonl, .jsonl.gz, .csv or .parquet)",
            ]
            assert query(warehouse, "select source_file from quarantine") == [("web/dt=2026-10-01/report.xlsx",)]
            assert query(warehouse, "select event_id from events") == [("e1",)]
        assert query(warehouse, "select count(*) from raw.ingested_files where source_file like '%.tmp'") == [(0,)]

        upload.rename(upload.with_name("a.jsonl"))
        summary = run_day(landing, warehouse, DAY3)
        assert summary.notices == []
        assert (summary.rows_loaded, summary.rows_quarantined) == (2, 0)
        run_day(landing, warehouse, DAY3)  # read once
        assert query(warehouse, "select event_id from events order by 1") == [("e1",), ("e2",), ("e3",)]
        assert query(warehouse, "select source_file from quarantine") == [("web/dt=2026-10-01/report.xlsx",)]

    def test_every_uploaders_name_in_any_case(self, landing: Landing, warehouse: Path) -> None:
        """WinSCP's .filepart, Hadoop's ._COPYING_, a browser's .crdownload, .part, ...: a run with
        only such files besides good ones has no file error (the command exits 0)."""
        landing.jsonl("web", DAY1, "good.jsonl", [GOOD])
        suffixes = (".tmp", ".temp", ".part", ".partial", ".crdownload", ".filepart", ".uploading", "._COPYING_",
                    ".inprogress", ".in-progress")
        names = [f"f{i}.jsonl{suffix.swapcase() if i % 2 else suffix}" for i, suffix in enumerate(suffixes)]
        for name in names:
            landing.jsonl("web", DAY1, name, [dict(GOOD, event_id=name)])
        landing.text("identities", None, "crm.csv._COPYING_", "user_id,email\nu1,ann@example.com\n")

        summary = run_day(landing, warehouse, DAY1)

        assert summary.file_errors == []
        assert summary.notices == [f"web/dt=2026-10-01/{name}: {self.IN_FLIGHT}" for name in sorted(names)] + [
            f"identities/crm.csv._COPYING_: {self.IN_FLIGHT}"
        ]
        assert query(warehouse, "select count(*) from quarantine") == [(0,)]
        assert query(warehouse, "select event_id from events") == [("e1",)]

    def test_a_refusal_of_an_earlier_version_goes(self, landing: Landing, warehouse: Path) -> None:
        """Versions before refused such a file as of an unknown type; its quarantine row, a loss
        that never happened (the file was read once renamed), is taken out by the next run."""
        landing.jsonl("web", DAY1, "good.jsonl", [GOOD])
        landing.text("web", DAY1, "report.xlsx", "not ours\n")
        run_day(landing, warehouse, DAY1)
        unsupported = "unsupported file type (expected .jsonl, .jsonl.gz, .csv or .parquet)"
        con = duckdb.connect(str(warehouse))
        try:
            con.execute(
                "insert into quarantine (channel, source_file, line_no, raw, error, arrived_on, run_id, ingested_at, reason)"
                " values ('web', 'web/dt=2026-10-01/a.jsonl.TMP', null, null, ?, ?, 'old', now(), 'unreadable_file')",
                [unsupported, DAY1],
            ).fetchall()
        finally:
            con.close()

        run_day(landing, warehouse, DAY2)

        assert query(warehouse, "select source_file from quarantine") == [("web/dt=2026-10-01/report.xlsx",)]


class TestUnreadableFiles:
    """A file whose bytes cannot be read is one quarantine row with line_no null, and the run goes on."""

    @pytest.mark.parametrize(
        ("name", "data", "error_start"),
        [
            pytest.param("b.jsonl.gz", b"this is not gzip\n", "file could not be read: Input is not a GZIP stream", id="jsonl.gz"),
            pytest.param("b.parquet", b"PAR1 this is not parquet", "file could not be read: ", id="parquet"),
            # a CSV without its header: its first row would be taken for one and lost
            pytest.param("b.csv", b"e2,2026-10-01T10:00:00Z,page_view,ann@example.com\ne3,2026-10-01T10:00:00Z,page_view,a3\n",
                         "file could not be read: the first line names no field of the contract (event_id, event_ts, "
                         "event_name, ...): a CSV file needs a header line", id="csv-without-header"),
            pytest.param("b.csv", b"EVENT_ID,EVENT_TS,EVENT_NAME,ANONYMOUS_ID\ne2,2026-10-01T10:00:00Z,page_view,a2\n",
                         "file could not be read: the CSV header (EVENT_ID, EVENT_TS, EVENT_NAME, ANONYMOUS_ID) names "
                         "no field as the contract spells them: field names are lower case, such as event_id, "
                         "event_ts, event_name", id="csv-upper-case-header"),
        ],
    )
    def test_run_goes_on(self, landing: Landing, warehouse: Path, name: str, data: bytes, error_start: str) -> None:
        landing.jsonl("web", DAY1, "a.jsonl", [GOOD])
        landing.binary("web", DAY1, name, data)

        summary = run_day(landing, warehouse, DAY1)

        source = f"web/dt=2026-10-01/{name}"
        assert len(summary.file_errors) == 1
        assert summary.file_errors[0].startswith(f"{source}: {error_start}")
        rows = query(warehouse, "select channel, source_file, line_no, raw, arrived_on, error from quarantine")
        assert [row[:5] for row in rows] == [("web", source, None, None, DAY1)]
        assert rows[0][5].startswith(error_start)
        assert query(warehouse, "select event_id from events") == [("e1",)]
        assert query(
            warehouse,
            "select source_file, rows_read, rows_loaded, file_error is not null from raw.ingested_files order by source_file",
        ) == [("web/dt=2026-10-01/a.jsonl", 1, 1, False), (source, 0, 0, True)]


class TestWhatNoKindReads:
    """A folder at the top of the landing folder that is no kind's (emails/ for email/, Social/)
    and a file beside the kinds' folders are read by no kind: each run says so in a notice, with
    the kind meant when the name is close to one, rather than loading nothing of them unsaid."""

    def test_a_misnamed_folder_and_a_stray_file_are_said(self, landing: Landing, warehouse: Path) -> None:
        landing.jsonl("web", DAY1, "good.jsonl", [GOOD])
        email = {"event_id": "m1", "event_ts": "2026-10-01T09:00:00Z", "event_name": "delivered",
                 "email": "ann@example.com"}
        landing.jsonl("emails", DAY1, "esp.jsonl", [email])
        landing.jsonl("Social", DAY1, "inbox.jsonl", [])
        landing.jsonl("crm", None, "export.csv", [])
        (landing.root / "social.jsonl").write_text("{}\n")
        (landing.root / "_archive").mkdir()  # hidden and marker names stay unsaid, as in the kinds' folders
        (landing.root / ".DS_Store").write_text("")

        for day in (DAY1, DAY2):  # said on every run while it is there
            summary = run_day(landing, warehouse, day)
            assert summary.notices == [
                "Social/: not a folder of the landing folder (web/, email/, social/, identities/, labels/), "
                "so its files are not read; did you mean social/?",
                "crm/: not a folder of the landing folder (web/, email/, social/, identities/, labels/), "
                "so its files are not read",
                "emails/: not a folder of the landing folder (web/, email/, social/, identities/, labels/), "
                "so its files are not read; did you mean email/?",
                "social.jsonl: a file beside the landing folder's folders is not read; it goes in web/, email/ "
                "or social/ (in a dt=YYYY-MM-DD folder), identities/ or labels/",
            ]
            assert summary.file_errors == []
        assert query(warehouse, "select channel, event_id from events") == [("web", "e1")]


class TestFileRefusedRowByRow:
    """A file whose every row is quarantined (a column named otherwise than the contract, times
    without an offset) is the export's fault, not a few rows': the run says so in a notice, with
    the reason and one error, where its counts alone said only how many."""

    def test_a_notice_names_the_file_and_why(self, landing: Landing, warehouse: Path) -> None:
        landing.jsonl("web", DAY1, "good.jsonl", [GOOD, dict(GOOD, event_id="e2", event_ts="yesterday")])
        landing.csv("email", DAY1, "esp.csv", ["email", "event_name", "timestamp", "event_id"], [
            {"email": "ann@example.com", "event_name": "delivered", "timestamp": "2026-10-01T09:00:00Z",
             "event_id": f"m{i}"} for i in range(3)
        ])
        landing.jsonl("social", DAY1, "inbox.jsonl", [
            {"event_id": "s1", "event_ts": "2026-10-01 09:00:00", "platform": "x", "handle": "ann",
             "event_name": "like"},
            {"event_id": "s2", "event_ts": "2026-10-01 09:05:00", "platform": "x", "handle": "ann",
             "event_name": "like"},
            {"event_id": "s3", "event_ts": "2026-10-01T09:05:00Z", "platform": "x", "event_name": "like"},
        ])

        summary = run_day(landing, warehouse, DAY1)

        assert summary.rows_quarantined == 7
        assert summary.notices == [
            "email/dt=2026-10-01/esp.csv: every one of its 3 rows was quarantined as missing_required_field"
            ": missing required field event_ts",
            "social/dt=2026-10-01/inbox.jsonl: every one of its 3 rows was quarantined, 2 as bad_timestamp"
            ': event_ts "2026-10-01 09:00:00" has no time zone; give an offset such as Z or +02:00',
        ]
        assert run_day(landing, warehouse, DAY2).notices == []  # said by the run that read the file
