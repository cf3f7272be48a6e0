"""Route 53 propagation, health checks that follow the regional services, and the local edge.

    scripts/in-netns.sh scripts/with-world.sh --k8s -- python -m pytest -q tests/world
"""

from __future__ import annotations

import collections
import http.client
import json
import time
import urllib.error
import urllib.request

import pytest

from tests.world import edge as edge_module

ZONE = "lomashwood.com"
API = "api.lomashwood.com"


def alb(region: str, name: str = "lb") -> str:
    """A load balancer DNS name shaped like moto's (<name>-1.<region>.elb.amazonaws.com)."""
    return f"{name}-1.{region}.elb.amazonaws.com"


def make_zone(world, name: str = ZONE) -> str:
    r53 = world.client("route53")
    return r53.create_hosted_zone(Name=name, CallerReference=f"test-{name}-{time.monotonic()}")["HostedZone"]["Id"].split("/")[-1]


def change(world, zone_id: str, *records: dict, action: str = "UPSERT") -> dict:
    return world.client("route53").change_resource_record_sets(
        HostedZoneId=zone_id, ChangeBatch={"Changes": [{"Action": action, "ResourceRecordSet": r} for r in records]},
    )["ChangeInfo"]


def cname(value: str, name: str = API, ttl: int = 60, **extra) -> dict:
    return {"Name": name, "Type": "CNAME", "TTL": ttl, "ResourceRecords": [{"Value": value}], **extra}


def health_check(world, fqdn: str | None, path: str = "/health", **extra) -> str:
    config = {"Type": "HTTPS", "ResourcePath": path, "Port": 443, **extra}
    if fqdn:
        config["FullyQualifiedDomainName"] = fqdn
    return world.client("route53").create_health_check(
        CallerReference=f"hc-{fqdn}-{path}-{time.monotonic()}", HealthCheckConfig=config)["HealthCheck"]["Id"]


def healthy(world, check_id: str) -> bool:
    obs = world.client("route53").get_health_check_status(HealthCheckId=check_id)["HealthCheckObservations"]
    statuses = {o["StatusReport"]["Status"].split(":")[0] for o in obs}
    assert len(statuses) == 1, statuses  # every checker region agrees
    return statuses == {"Success"}


def get(url: str, host: str | None = None):
    """(status, headers, JSON body) of GET url; HTTP errors are answers too."""
    req = urllib.request.Request(url, headers={"Host": host} if host else {})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, resp.headers, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, json.loads(exc.read())


def wait_until(check, timeout: float = 30, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


@pytest.fixture
def seeded(world):
    world.info = world.seed(lag_seconds=5)
    world.configure(resolver_ttl_seconds=0)  # every resolution fresh unless a test says otherwise
    return world


# --- Route 53 propagation ---------------------------------------------------------


@pytest.mark.parametrize("seconds", [0, 1.0])
def test_change_is_pending_then_insync_after_the_propagation_time(world, seconds):
    world.configure(dns_propagation_seconds=seconds)
    zone_id = make_zone(world)
    r53 = world.client("route53")
    submitted = time.monotonic()
    info = change(world, zone_id, cname(alb("eu-west-1")))
    assert info["Status"] == "PENDING" and info["Id"].startswith("/change/C")
    # The API shows the new record at once, as AWS does.
    values = [r["ResourceRecords"][0]["Value"] for r in r53.list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"]
              if r["Name"] == API + "."]
    assert values == [alb("eu-west-1")]
    statuses = []
    while True:
        status = r53.get_change(Id=info["Id"])["ChangeInfo"]["Status"]
        statuses.append(status)
        if status == "INSYNC":
            break
        assert time.monotonic() - submitted < seconds + 5, statuses
        time.sleep(0.1)
    elapsed = time.monotonic() - submitted
    if seconds == 0:
        assert statuses == ["INSYNC"]
    else:
        assert statuses[0] == "PENDING" and elapsed >= seconds
    other = change(world, zone_id, cname(alb("eu-west-2")))
    assert other["Id"] != info["Id"]  # every change has its own id


def test_edge_does_not_see_a_pending_change_then_does(seeded):
    world, info = seeded, seeded.info
    zone_id = info["route53"]["zone_id"]
    assert world.edge_resolve()["region"] == "eu-west-1"
    world.configure(dns_propagation_seconds=1.5)
    primary = dict(info["route53"]["records"]["PRIMARY"], ResourceRecords=[{"Value": info["elbv2"]["eu-west-2"]["dns_name"]}])
    first = change(world, zone_id, primary)
    time.sleep(0.6)
    second = change(world, zone_id, cname(alb("eu-west-1", "other"), name="www.lomashwood.com", ttl=30))
    r53 = world.client("route53")
    assert world.edge_resolve()["region"] == "eu-west-1"  # PENDING: resolvers still see the old record
    assert world.edge_resolve("www.lomashwood.com")["error"]
    assert world.state()["dns_changes"] and r53.get_change(Id=first["Id"])["ChangeInfo"]["Status"] == "PENDING"
    wait_until(lambda: r53.get_change(Id=first["Id"])["ChangeInfo"]["Status"] == "INSYNC", what="first change INSYNC")
    # The first change is visible; the second, submitted later, is not yet.
    assert r53.get_change(Id=second["Id"])["ChangeInfo"]["Status"] == "PENDING"
    answer = world.edge_resolve()
    assert (answer["region"], answer["target"]) == ("eu-west-2", info["elbv2"]["eu-west-2"]["dns_name"])
    assert world.edge_resolve("www.lomashwood.com")["error"]
    wait_until(lambda: r53.get_change(Id=second["Id"])["ChangeInfo"]["Status"] == "INSYNC", what="second change INSYNC")
    assert world.edge_resolve("www.lomashwood.com")["region"] == "eu-west-1"
    assert world.state()["dns_changes"] == []


# --- failover records, through the edge ---------------------------------------------


@pytest.mark.parametrize("setup, region, why", [
    ({}, "eu-west-1", "failover: primary healthy"),
    ({"down": True}, "eu-west-2", "failover: primary unhealthy"),
    ({"inverted": True}, "eu-west-2", "failover: primary unhealthy"),
    ({"inverted": True, "down": True}, "eu-west-1", "failover: primary healthy"),
    ({"failing": True}, "eu-west-2", "failover: primary unhealthy"),
    ({"disabled": True, "down": True}, "eu-west-1", "failover: primary healthy"),
], ids=["healthy", "primary-down", "inverted", "inverted-down", "forced-failing", "disabled-down"])
def test_failover_records_follow_the_primary_health_check(seeded, setup, region, why):
    world = seeded
    check = world.info["route53"]["health_checks"]["api_gateway"]
    r53 = world.client("route53")
    if setup.get("inverted") or setup.get("disabled"):
        r53.update_health_check(HealthCheckId=check, Inverted=bool(setup.get("inverted")),
                                Disabled=bool(setup.get("disabled")))
    if setup.get("failing"):
        world.configure(failing_health_checks=[check])
    if setup.get("down"):
        world.region_down("eu-west-1")
    answer = world.edge_resolve()
    assert (answer["region"], answer["set_identifier"], answer["chain"][0]["why"]) == (region, region, why)
    assert answer["target"] == world.info["elbv2"][region]["dns_name"]


def test_edge_forwards_to_the_region_it_resolves(seeded):
    world = seeded
    status, headers, body = get(world.edge_url() + "/health")
    assert (status, body) == (200, {"region": "eu-west-1", "status": "ok"})
    assert headers["X-Edge-Region"] == "eu-west-1"
    assert headers["X-Edge-Resolved"] == world.info["elbv2"]["eu-west-1"]["dns_name"]
    assert get(world.edge_url() + "/v1/orders/health")[2] == {
        "region": "eu-west-1", "service": "order-payment-service", "status": "ok"}
    world.region_down("eu-west-1")
    status, headers, body = get(world.edge_url() + "/health")
    assert (status, body["region"], headers["X-Edge-Region"]) == (200, "eu-west-2", "eu-west-2")
    # Both regions down: the SECONDARY has no health check, so it stays the answer; it does not answer.
    world.region_down("eu-west-2")
    status, headers, body = get(world.edge_url() + "/health")
    assert status == 502 and "eu-west-2 did not answer" in body["error"]
    assert body["resolved"]["region"] == "eu-west-2"


def test_failover_with_both_records_unhealthy_answers_the_primary(world):
    zone_id = make_zone(world)
    checks = {r: health_check(world, alb(r)) for r in ("eu-west-1", "eu-west-2")}
    change(world, zone_id, *[cname(alb(r), SetIdentifier=r, Failover=role, HealthCheckId=checks[r])
                             for r, role in (("eu-west-1", "PRIMARY"), ("eu-west-2", "SECONDARY"))])
    world.configure(resolver_ttl_seconds=0, failing_health_checks=[checks["eu-west-1"]])
    assert world.edge_resolve()["region"] == "eu-west-2"
    world.configure(failing_health_checks=list(checks.values()))
    answer = world.edge_resolve()
    assert (answer["region"], answer["chain"][0]["why"]) == ("eu-west-1", "failover: no healthy record, primary answered")


def test_edge_resolves_the_host_header_name_else_the_api_name(seeded):
    world = seeded
    change(world, seeded.info["route53"]["zone_id"], cname(alb("eu-west-2", "shop"), name="shop.lomashwood.com"))
    status, headers, body = get(world.edge_url() + "/health", host="shop.lomashwood.com")
    assert (status, headers["X-Edge-Resolved"], body["region"]) == (200, alb("eu-west-2", "shop"), "eu-west-2")
    status, headers, _ = get(world.edge_url() + "/health", host="unknown.example.org:8443")
    assert (status, headers["X-Edge-Region"]) == (200, "eu-west-1")  # not in a zone: api.lomashwood.com


def test_edge_says_why_when_nothing_resolves(world):
    status, _, body = get(world.edge_url() + "/health")
    assert status == 502 and API in body["error"] and body["resolved"]["region"] is None
    zone_id = make_zone(world)
    change(world, zone_id, cname("somewhere.example.org"))
    status, _, body = get(world.edge_url() + "/health")
    assert status == 502 and "somewhere.example.org is not a load balancer" in body["error"]


def test_alias_to_a_load_balancer_evaluates_its_target_health(world):
    zone_id = make_zone(world)
    ec2 = world.client("ec2", "eu-west-1")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"eu-west-1{az}")["Subnet"]["SubnetId"]
               for i, az in enumerate("ab")]
    lb = world.client("elbv2", "eu-west-1").create_load_balancer(Name="alias-lb", Subnets=subnets)["LoadBalancers"][0]
    def alias(role, dns, region):
        return {"Name": API, "Type": "A", "SetIdentifier": region, "Failover": role,
                "AliasTarget": {"HostedZoneId": lb["CanonicalHostedZoneId"], "DNSName": dns, "EvaluateTargetHealth": True}}
    change(world, zone_id, alias("PRIMARY", lb["DNSName"], "eu-west-1"), alias("SECONDARY", alb("eu-west-2"), "eu-west-2"))
    world.configure(resolver_ttl_seconds=0)
    answer = world.edge_resolve()
    assert (answer["region"], answer["target"], answer["ttl"]) == ("eu-west-1", lb["DNSName"].lower(), 60)
    world.region_down("eu-west-1")  # no health check on the record: the alias's target health decides
    assert world.edge_resolve()["region"] == "eu-west-2"


# --- weighted records -------------------------------------------------------------


@pytest.mark.parametrize("weights, share_low, share_high", [
    ((0, 100), 0.0, 0.0),
    ((100, 0), 1.0, 1.0),
    ((50, 50), 0.42, 0.58),
    ((0, 0), 0.42, 0.58),  # all zero: equal shares
    ((25, 75), 0.17, 0.33),
])
def test_weighted_records_share_answers_by_weight(world, weights, share_low, share_high):
    zone_id = make_zone(world)
    change(world, zone_id, *[cname(alb(region), SetIdentifier=region, Weight=weight, ttl=0)
                             for region, weight in zip(("eu-west-1", "eu-west-2"), weights)])
    counts = collections.Counter(world.edge_resolve()["region"] for _ in range(400))
    assert set(counts) <= {"eu-west-1", "eu-west-2"}
    assert share_low <= counts["eu-west-1"] / 400 <= share_high, counts


def test_weighted_records_skip_an_unhealthy_record(world):
    zone_id = make_zone(world)
    check = health_check(world, alb("eu-west-1"))
    change(world, zone_id, cname(alb("eu-west-1"), SetIdentifier="eu-west-1", Weight=90, ttl=0, HealthCheckId=check),
           cname(alb("eu-west-2"), SetIdentifier="eu-west-2", Weight=10, ttl=0))
    world.region_down("eu-west-1")
    assert {world.edge_resolve()["region"] for _ in range(50)} == {"eu-west-2"}


# --- the resolver's cache ---------------------------------------------------------


def test_answer_is_cached_for_the_ttl_then_refreshed(world):
    zone_id = make_zone(world)
    change(world, zone_id, cname(alb("eu-west-1"), ttl=1))  # resolver_ttl_seconds null: the record's TTL
    first = world.edge_resolve()
    assert (first["region"], first["cached"], first["ttl_left"]) == ("eu-west-1", False, 1)
    change(world, zone_id, cname(alb("eu-west-2"), ttl=1))
    again = world.edge_resolve()
    assert (again["region"], again["cached"]) == ("eu-west-1", True) and 0 < again["ttl_left"] < 1
    assert get(world.edge_url() + "/health")[1]["X-Edge-Region"] == "eu-west-1"  # requests use the cache too
    time.sleep(1.1)
    fresh = world.edge_resolve()
    assert (fresh["region"], fresh["cached"]) == ("eu-west-2", False)
    world.configure(resolver_ttl_seconds=30)  # overrides the record's TTL
    world.reset()  # ...and a reset forgets cached answers (and the setting)
    assert world.edge_resolve()["error"]


def test_resolver_ttl_setting_overrides_the_record_ttl(world):
    zone_id = make_zone(world)
    change(world, zone_id, cname(alb("eu-west-1"), ttl=300))
    world.configure(resolver_ttl_seconds=0.5)
    assert world.edge_resolve()["ttl_left"] == 0.5
    change(world, zone_id, cname(alb("eu-west-2"), ttl=300))
    time.sleep(0.6)
    assert world.edge_resolve()["region"] == "eu-west-2"


# --- health checks follow the regional services -------------------------------------


def test_health_check_follows_the_regional_service_path(world):
    ok = health_check(world, alb("eu-west-1"), "/v1/products/health")
    missing = health_check(world, alb("eu-west-1"), "/v1/no-such-service/health")
    by_ip = health_check(world, None, "/health", IPAddress="127.0.0.1",
                         Port=int(world.regional_urls()["eu-west-2"].rsplit(":", 1)[1]))
    assert (healthy(world, ok), healthy(world, missing), healthy(world, by_ip)) == (True, False, True)
    world.region_down("eu-west-2")  # the IP check targets eu-west-2's service by its port
    assert (healthy(world, ok), healthy(world, by_ip)) == (True, False)


def test_health_check_change_is_reported_after_the_detection_delay(world):
    check = health_check(world, alb("eu-west-1"))
    world.configure(health_check_delay_seconds=1.0)
    assert healthy(world, check) is True
    world.region_down("eu-west-1")
    down_at = time.monotonic()
    assert healthy(world, check) is True  # not yet: the failure has not held long enough
    wait_until(lambda: not healthy(world, check), timeout=5, what="the failure to be reported")
    assert time.monotonic() - down_at >= 1.0
    world.region_up("eu-west-1")
    time.sleep(1.3)  # the monitor times the recovery even though nobody asked meanwhile
    assert healthy(world, check) is True


# --- the regional services ----------------------------------------------------------


@pytest.mark.parametrize("path, status, body", [
    ("/health", 200, {"region": "eu-west-2", "status": "ok"}),
    ("/v1/auth/health", 200, {"region": "eu-west-2", "service": "auth-service", "status": "ok"}),
    ("/v1/appointments/health?deep=1", 200, {"region": "eu-west-2", "service": "appointment-service", "status": "ok"}),
    ("/v1/nope/health", 404, {"region": "eu-west-2", "error": "no such service: nope"}),
    ("/admin", 404, {"region": "eu-west-2", "error": "no such path: /admin"}),
])
def test_regional_service_paths_without_kubernetes(world, path, status, body):
    assert get(world.regional_urls()["eu-west-2"] + path)[::2] == (status, body)


def test_a_down_region_does_not_answer(world):
    world.region_down("eu-west-1")
    host, port = world.regional_urls()["eu-west-1"].rsplit("/", 1)[1].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.request("GET", "/health")
        with pytest.raises((http.client.RemoteDisconnected, ConnectionResetError)):
            conn.getresponse()
    finally:
        conn.close()
    assert get(world.regional_urls()["eu-west-2"] + "/health")[0] == 200


def test_service_paths_match_the_seeded_deployments():
    from tests.k8s.seed import DATABASES, DEPLOYMENTS

    assert set(edge_module.SERVICE_DEPLOYMENTS.values()) | {edge_module.GATEWAY} == set(DEPLOYMENTS)
    assert {svc: dep for dep, svc in DATABASES.items()} == edge_module.SERVICE_DEPLOYMENTS


def test_control_api_edge_urls_config_keys_and_reset(world):
    urls = world.edge_urls()
    assert set(urls["regions"]) == {"eu-west-1", "eu-west-2"}
    assert all(u.startswith("http://127.0.0.1:") for u in [urls["edge"], *urls["regions"].values()])
    assert len({urls["edge"], *urls["regions"].values()}) == 3
    cfg = world.config()
    assert (cfg["dns_propagation_seconds"], cfg["health_check_delay_seconds"], cfg["resolver_ttl_seconds"]) == (0, 0, None)
    for bad in ({"resolver_ttl_seconds": "soon"}, {"kubeconfig": 3}, {"dns_propagation_seconds": True}):
        with pytest.raises(urllib.error.HTTPError) as err:
            world.configure(**bad)
        assert err.value.code == 400
    world.configure(kubeconfig="/nonexistent/kubeconfig", dns_propagation_seconds=5)
    world.reset()
    cfg = world.config()
    assert cfg["kubeconfig"] == "/nonexistent/kubeconfig" and cfg["dns_propagation_seconds"] == 0
    # A kubeconfig that cannot be read: the service says so, and its health checks fail.
    status, _, body = get(world.regional_urls()["eu-west-1"] + "/health")
    assert status == 503 and "cannot read deployments in lomash-wood-eu-west-1/lomash-wood" in body["error"]


# --- with the Kubernetes control planes --------------------------------------------


def test_regional_service_follows_the_deployments(seeded, k8s):
    world = seeded
    world.configure(kubeconfig=k8s.kubeconfig)
    euw1, euw2 = world.regional_urls()["eu-west-1"], world.regional_urls()["eu-west-2"]
    check = health_check(world, world.info["elbv2"]["eu-west-2"]["dns_name"])
    # eu-west-2 as seeded: every deployment at 0.
    assert get(euw2 + "/health")[::2] == (503, {"region": "eu-west-2", "error": "api-gateway has 0 ready pods"})
    assert healthy(world, check) is False
    assert get(euw1 + "/v1/products/health")[::2] == (
        200, {"region": "eu-west-1", "service": "product-service", "status": "ok"})
    # eu-west-1 down: the edge fails over, and eu-west-2 says what it lacks.
    world.region_down("eu-west-1")
    status, headers, body = get(world.edge_url() + "/health")
    assert (status, headers["X-Edge-Region"], body["error"]) == (503, "eu-west-2", "api-gateway has 0 ready pods")

    k8s.scale(["api-gateway"], 1, region="eu-west-2")
    wait_until(lambda: get(euw2 + "/health")[0] == 200, what="eu-west-2's gateway to be ready")
    assert get(euw2 + "/health")[2] == {"region": "eu-west-2", "status": "ok"}
    assert k8s.deployments("eu-west-2")["api-gateway"]["ready"] == 1
    assert healthy(world, check) is True
    assert get(euw2 + "/v1/auth/health")[::2] == (503, {"region": "eu-west-2", "error": "auth-service has 0 ready pods"})
    status, headers, body = get(world.edge_url() + "/health")
    assert (status, headers["X-Edge-Region"], body) == (200, "eu-west-2", {"region": "eu-west-2", "status": "ok"})
