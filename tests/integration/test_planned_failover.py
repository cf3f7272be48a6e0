"""A planned failover (the annual full test, the primary healthy) loses nothing: rows written through
the public name right up to the cutover are all in the promoted eu-west-2 databases."""

from __future__ import annotations

import glob
import json
import threading
import time

from tests.world import snapshot

from .test_failover_dns_verify import wait_until_healthy
from .test_failover_playbook import _report, _run, _step, platform  # noqa: F401  # pylint: disable=unused-import
from .test_rds_promote_batch import all_promoted

WRITTEN = {"orders": "lomash-orders-prod-replica", "auth": "lomash-auth-prod-replica"}


def test_planned_failover_loses_no_acknowledged_write(platform, tmp_path):  # noqa: F811
    world = platform
    world.region_up("eu-west-1")
    wait_until_healthy(world, world.info["route53"]["health_checks"]["api_gateway"])
    # The platform's clients, as the molecule scenario runs them: a row per service every 0.2 s
    # through the public name, until eu-west-2 acknowledges one (the cutover is done).
    rows_file = str(tmp_path / "rows.json")
    writer = threading.Thread(target=snapshot.write_rows, daemon=True,
                              args=(world.endpoint, rows_file, list(WRITTEN), 0.2, 300, "planned"))
    writer.start()
    time.sleep(2)  # rows are going to eu-west-1 before the run starts
    proc = _run(world, tmp_path, extra_vars={"dr_failover_mode": "planned"})
    writer.join(timeout=60)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert all_promoted(world)

    with open(rows_file) as handle:
        written = json.load(handle)
    assert written["regions"] == ["eu-west-1", "eu-west-2"], written["reason"]
    acked_home = [a for a in written["acked"] if a[2] == "eu-west-1"]
    assert len(acked_home) >= 10, written  # the test wrote through the primary before the cutover
    assert written["refused"] > 0  # and writes were refused once the write path stopped
    for service, database in WRITTEN.items():
        held = {r["marker"] for r in world.rows("eu-west-2", database)}
        lost = [ack[1] for ack in written["acked"] if ack[0] == service and ack[1] not in held]
        assert lost == [], "%s lost %d acknowledged rows: %s" % (database, len(lost), lost[:5])

    report = _report(tmp_path)
    assert (report["mode"], report["outcome"], report["rpo_estimate_seconds"]) == ("planned", "succeeded", 0)
    stop = _step(report, "stop_writes")
    assert stop["outcome"] == "changed" and stop["detail"]["region"] == "eu-west-1"
    assert set(stop["detail"]["lag_seconds"].values()) == {0}
    # The drain said which replicas had caught up while it waited (a seed lag of 5 s drains in seconds)
    drain = [line for line in proc.stdout.splitlines() if line.startswith("replicas: ")]
    assert drain and all(" caught up (lag at most 0 s)" in line for line in drain), drain
    assert "FAILED - RETRYING" not in proc.stdout
    promoted = _step(report, "promote_databases")["detail"]["results"]
    assert {r["lag_seconds"] for r in promoted} == {0}
    # S3's share of the RPO is read while the primary answers (the seed publishes ReplicationLatency)
    assert report["rpo"]["s3"]["estimate_seconds"] > 0 and report["rpo"]["s3"]["pending"] == 0, report["rpo"]
    md = open(sorted(glob.glob(str(tmp_path / "failover-*.md")))[-1]).read()
    assert "Nothing lost: writes stopped in eu-west-1 first, and every replica was promoted at lag 0." in md
