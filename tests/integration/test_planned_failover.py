"""A planned failover (the annual full test, the primary healthy) loses nothing: rows written through
the public name right up to the cutover are all in the promoted eu-west-2 databases."""

from __future__ import annotations

import glob
import threading
import time

from .test_failover_dns_verify import wait_until_healthy
from .test_failover_playbook import _report, _run, _step, platform  # noqa: F401  # pylint: disable=unused-import
from .test_rds_promote_batch import all_promoted

WRITTEN = {"orders": "lomash-orders-prod-replica", "auth": "lomash-auth-prod-replica"}


class Writer(threading.Thread):
    """Writes a row every 0.2 s through the edge, as the platform's clients would, and keeps
    each acknowledged one (201) with the region that took it."""

    def __init__(self, world):
        super().__init__(daemon=True)
        self.world, self.acked, self.refused, self.stop = world, [], 0, threading.Event()

    def run(self):
        n = 0
        while not self.stop.is_set():
            for service in WRITTEN:
                marker = "planned-%s-%d" % (service, n)
                status, body = self.world.write_row(marker, service=service)
                if status == 201:
                    self.acked.append((service, marker, body["region"]))
                else:
                    self.refused += 1
            n += 1
            time.sleep(0.2)


def test_planned_failover_loses_no_acknowledged_write(platform, tmp_path):  # noqa: F811
    world = platform
    world.region_up("eu-west-1")
    wait_until_healthy(world, world.info["route53"]["health_checks"]["api_gateway"])
    writer = Writer(world)
    writer.start()
    time.sleep(2)  # rows are going to eu-west-1 before the run starts
    try:
        proc = _run(world, tmp_path, extra_vars={"dr_failover_mode": "planned"})
    finally:
        writer.stop.set()
        writer.join(timeout=30)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert all_promoted(world)

    acked_home = [a for a in writer.acked if a[2] == "eu-west-1"]
    assert len(acked_home) >= 10, writer.acked  # the test wrote through the primary before the cutover
    assert writer.refused > 0  # and writes were refused once the write path stopped
    for service, database in WRITTEN.items():
        held = {r["marker"] for r in world.rows("eu-west-2", database)}
        lost = [ack[1] for ack in writer.acked if ack[0] == service and ack[1] not in held]
        assert lost == [], "%s lost %d acknowledged rows: %s" % (database, len(lost), lost[:5])

    report = _report(tmp_path)
    assert (report["mode"], report["outcome"], report["rpo_estimate_seconds"]) == ("planned", "succeeded", 0)
    stop = _step(report, "stop_writes")
    assert stop["outcome"] == "changed" and stop["detail"]["region"] == "eu-west-1"
    assert set(stop["detail"]["lag_seconds"].values()) == {0}
    promoted = _step(report, "promote_databases")["detail"]["results"]
    assert {r["lag_seconds"] for r in promoted} == {0}
    # S3's share of the RPO is read while the primary answers (the seed publishes ReplicationLatency)
    assert report["rpo"]["s3"]["estimate_seconds"] > 0 and report["rpo"]["s3"]["pending"] == 0, report["rpo"]
    md = open(sorted(glob.glob(str(tmp_path / "failover-*.md")))[-1]).read()
    assert "Nothing lost: writes stopped in eu-west-1 first, and every replica was promoted at lag 0." in md
