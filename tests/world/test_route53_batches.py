"""Route 53 change batches apply as one transaction: DELETEs first, by name, type and set identifier."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError


def cname(name, set_id, value, role):
    return {"Name": name, "Type": "CNAME", "SetIdentifier": set_id, "Failover": role, "TTL": 60,
            "ResourceRecords": [{"Value": value}]}


@pytest.fixture
def zone(world):
    r53 = world.client("route53", "us-east-1")
    zone_id = r53.create_hosted_zone(Name="example.test", CallerReference="batches")["HostedZone"]["Id"]
    return r53, zone_id


def records(r53, zone_id):
    out = r53.list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"]
    return sorted((r["Name"], r.get("SetIdentifier"), r.get("Failover")) for r in out if r["Type"] == "CNAME")


def swap(r53, zone_id, name, current, wanted):
    changes = [{"Action": "DELETE", "ResourceRecordSet": r} for r in current]
    changes += [{"Action": "CREATE", "ResourceRecordSet": r} for r in wanted]
    r53.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": changes})


def test_delete_and_create_of_the_same_sets_works_again_and_again(zone):
    r53, zone_id = zone
    a = [cname("api.example.test.", "one", "a.example.org", "PRIMARY"), cname("api.example.test.", "two", "b.example.org", "SECONDARY")]
    b = [cname("api.example.test.", "one", "a.example.org", "SECONDARY"), cname("api.example.test.", "two", "b.example.org", "PRIMARY")]
    r53.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": [{"Action": "CREATE", "ResourceRecordSet": r} for r in a]})
    for current, wanted in ((a, b), (b, a), (a, b), (b, a)):  # moto alone refuses the third
        swap(r53, zone_id, "api.example.test.", current, wanted)
    assert records(r53, zone_id) == [("api.example.test.", "one", "PRIMARY"), ("api.example.test.", "two", "SECONDARY")]


def test_a_delete_of_a_missing_set_refuses_the_whole_batch(zone):
    r53, zone_id = zone
    a = [cname("api.example.test.", "one", "a.example.org", "PRIMARY")]
    r53.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": [{"Action": "CREATE", "ResourceRecordSet": a[0]}]})
    with pytest.raises(ClientError, match="set-identifier='ghost'] but it was not found"):
        swap(r53, zone_id, "api.example.test.", [cname("api.example.test.", "ghost", "x.example.org", "SECONDARY")],
             [cname("api.example.test.", "new", "n.example.org", "SECONDARY")])
    assert records(r53, zone_id) == [("api.example.test.", "one", "PRIMARY")]


def test_a_delete_by_set_identifier_keeps_other_names(zone):
    r53, zone_id = zone
    both = [cname("api.example.test.", "one", "a.example.org", "PRIMARY"), cname("www.example.test.", "one", "a.example.org", "PRIMARY")]
    r53.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": [{"Action": "CREATE", "ResourceRecordSet": r} for r in both]})
    r53.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": [{"Action": "DELETE", "ResourceRecordSet": both[0]}]})
    assert records(r53, zone_id) == [("www.example.test.", "one", "PRIMARY")]
