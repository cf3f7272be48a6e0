"""Least privilege and secrets (issue 11 items 5 and 6), on one failover + failback + DNS drill.

One run of the three playbooks (module-scoped: ~3 min on 2 cores) at -vvvv with --diff, the
Slack webhook, a Stripe key and a region-specific Stripe URL configured, Kubernetes through a
recording proxy (kube_recorder.py). Then:
- every AWS call the world counted maps to IAM actions (IAM_ACTIONS), and a call may imply
  permissions real AWS checks besides its own (IMPLIED: KMS for SSE-KMS copies and encrypted
  replicas, iam:PassRole for the CRR rule's role, the abort of a failed multipart copy); those are
  exactly the actions of that playbook's statements in docs/iam-policy.json (its own, Resource "*",
  and scoped ones: iam:PassRole to the CRR role only, kms:CreateGrant for AWS resources only): none
  missing, none neither called nor implied. Before failback, CRR is paused, so that failback writes
  the rule (as after an outage in which it was paused);
- every Kubernetes request is allowed by docs/k8s-rbac.yml, and every verb on every resource it
  grants was used;
- the DB passwords, the Slack webhook, the Stripe key and the kubeconfig token are nowhere in what
  the runs wrote: stdout/stderr, the reports, the chaos log, any value the lock parameter held.
"""

from __future__ import annotations

import base64
import fnmatch
import glob
import json
import os
import secrets
import threading

import pytest
import yaml

from tests.world.control import World
from tests.world.slack import start_slack
from tests.world.stripe import start_stripe

from .kube_recorder import KubeRecorder, rbac_request
from .runner import ROOT, run_playbook

POLICY = os.path.join(ROOT, "docs", "iam-policy.json")
RBAC = os.path.join(ROOT, "docs", "k8s-rbac.yml")
PLAYBOOKS = {"Failover": "playbooks/failover.yml", "Failback": "playbooks/failback.yml",
             "DnsDrill": "playbooks/dns_drill.yml"}
LOCK_NAME = "/lomashwood/multiregion/failover-lock"
STRIPE_GLOBAL = "https://api.lomashwood.com/v1/webhooks/stripe"
STRIPE_REGIONAL = "https://api-eu-west-2.lomashwood.com/v1/webhooks/stripe"
NAMESPACE = "lomash-wood"

# The world names a call as boto3 does ("service:Operation"); IAM names the permission it needs.
# Mostly the same name under the IAM service prefix; where not, it is written here. S3 has no
# default: an S3 operation not listed fails the test rather than being guessed.
SERVICE_PREFIX = {"elbv2": "elasticloadbalancing", "elb": "elasticloadbalancing"}
IAM_ACTIONS = {
    "s3:HeadObject": ["s3:GetObject"],
    "s3:GetObject": ["s3:GetObject"],
    # s3_crr_sync reads and copies the exact version it inspected (CRR buckets are versioned), so
    # the source is read with the Version permissions.
    "s3:GetObjectTagging": ["s3:GetObjectVersionTagging"],
    "s3:PutObjectTagging": ["s3:PutObjectTagging"],
    "s3:HeadBucket": ["s3:ListBucket"],
    "s3:ListObjectsV2": ["s3:ListBucket"],
    "s3:ListObjects": ["s3:ListBucket"],
    "s3:ListObjectVersions": ["s3:ListBucketVersions"],
    "s3:GetBucketLocation": ["s3:GetBucketLocation"],
    "s3:GetBucketVersioning": ["s3:GetBucketVersioning"],
    "s3:GetBucketEncryption": ["s3:GetEncryptionConfiguration"],
    "s3:GetBucketReplication": ["s3:GetReplicationConfiguration"],
    "s3:PutBucketReplication": ["s3:PutReplicationConfiguration"],
    "s3:PutObject": ["s3:PutObject"],
    # A copy reads the source version and its tags (TaggingDirective COPY) and writes the object and
    # those tags.
    "s3:CopyObject": ["s3:GetObjectVersion", "s3:GetObjectVersionTagging", "s3:PutObject", "s3:PutObjectTagging"],
    "s3:CreateMultipartUpload": ["s3:PutObject", "s3:PutObjectTagging"],
    "s3:UploadPart": ["s3:PutObject"],
    "s3:UploadPartCopy": ["s3:GetObjectVersion", "s3:PutObject"],
    "s3:CompleteMultipartUpload": ["s3:PutObject"],
    "s3:AbortMultipartUpload": ["s3:AbortMultipartUpload"],
    "s3:DeleteObject": ["s3:DeleteObject"],
    "s3:DeleteObjects": ["s3:DeleteObject"],
}

# Implied permissions: what real AWS checks besides the permission of the call itself, which the
# world (no IAM) never shows as a call of its own, and the abort of a multipart copy, a path the
# journey does not take. {recorded call: [(IAM action, why, AWS doc)]}. The policy must hold them;
# a grant neither called nor implied still fails. Not needed: kms:Encrypt (S3 and RDS encrypt with
# data keys, GenerateDataKey; RDS through its grant), the CRR role's own permissions (S3 replicates
# as that role, not as the caller; its KMS permissions for ReplicaKmsKeyID are the role's).
DOC_S3_KMS = "https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html"
DOC_S3_MPU_KMS = "https://repost.aws/knowledge-center/s3-large-file-encryption-kms-key"
DOC_S3_MPU = "https://docs.aws.amazon.com/AmazonS3/latest/userguide/mpuoverview.html#mpuAndPermissions"
DOC_S3_CRR = "https://docs.aws.amazon.com/AmazonS3/latest/userguide/setting-repl-config-perm-overview.html"
DOC_PASSROLE = "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_passrole.html"
DOC_RDS_KMS = "https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/Overview.Encryption.Keys.html"
DECRYPT_SOURCE = ("kms:Decrypt", "S3 decrypts an SSE-KMS source (the seed's, production's media key) with the "
                  "caller's kms:Decrypt on its key", DOC_S3_KMS)
ENCRYPT_COPY = ("kms:GenerateDataKey", "S3 encrypts the copy under kms_key_id or the destination bucket's default "
                "KMS key with the caller's kms:GenerateDataKey", DOC_S3_KMS)
ABORT = ("s3:AbortMultipartUpload", "s3_crr_sync aborts a multipart copy whose part or completion failed "
         "(module_utils/s3.py multipart_copy), so that no half upload is left", DOC_S3_MPU)
IMPLIED = {
    "s3:CopyObject": [
        DECRYPT_SOURCE, ENCRYPT_COPY,
        ("s3:AbortMultipartUpload", "an object above multipart_threshold (default 5 GiB, CopyObject's limit) is "
         "copied by multipart upload instead, aborted when a part or the completion fails (multipart_copy); the "
         "journey's objects are smaller, and the rest of that path needs only CopyObject's permissions", DOC_S3_MPU),
    ],
    "s3:CreateMultipartUpload": [
        ("kms:GenerateDataKey", "starting an SSE-KMS multipart upload needs kms:GenerateDataKey", DOC_S3_MPU_KMS),
        ABORT,
    ],
    "s3:UploadPartCopy": [
        ("kms:Decrypt", "each part of an SSE-KMS upload is read back and encrypted under the upload's data key: "
         "kms:Decrypt (also the SSE-KMS source's)", DOC_S3_MPU_KMS),
        ("kms:GenerateDataKey", "an SSE-KMS multipart upload needs kms:GenerateDataKey and kms:Decrypt",
         DOC_S3_MPU_KMS),
    ],
    "s3:CompleteMultipartUpload": [
        ("kms:Decrypt", "S3 decrypts the encrypted parts to assemble them", DOC_S3_MPU_KMS),
    ],
    "s3:PutBucketReplication": [
        ("iam:PassRole", "the configuration's Role (the CRR role, dr_s3_crr_role) is passed to S3; granted for "
         "that role only, iam:PassedToService s3.amazonaws.com", DOC_S3_CRR + " " + DOC_PASSROLE),
    ],
    "rds:CreateDBInstanceReadReplica": [
        ("kms:CreateGrant", "a cross-region replica of an encrypted source is encrypted under kms_key_id, a key of "
         "the destination region; RDS acts for the caller and needs kms:CreateGrant on it (granted only for AWS "
         "resources, kms:GrantIsForAWSResource)", DOC_RDS_KMS),
        ("kms:DescribeKey", "the same: RDS needs the caller's kms:DescribeKey on that key", DOC_RDS_KMS),
    ],
}

# Permissions granted only in a statement of their own, scoped: {action: check(statement, journey)}.
SCOPED_STATEMENTS = {
    "iam:PassRole": lambda statement, info: (
        isinstance(statement["Resource"], str)
        and fnmatch.fnmatchcase(info["s3"]["replication_role_arn"], statement["Resource"])
        and statement["Resource"].startswith("arn:aws:iam::")
        and statement["Resource"].endswith(":role/" + info["s3"]["replication_role_arn"].rsplit("/", 1)[1])
        and statement.get("Condition") == {"StringEquals": {"iam:PassedToService": "s3.amazonaws.com"}}),
    "kms:CreateGrant": lambda statement, info: (
        statement["Resource"] == "*"
        and statement.get("Condition") == {"Bool": {"kms:GrantIsForAWSResource": "true"}}),
}


def iam_actions(call):
    if call in IAM_ACTIONS:
        return IAM_ACTIONS[call]
    service, _sep, operation = call.partition(":")
    assert service != "s3" and operation and operation[0].isupper(), \
        "no IAM action known for %s: add it to IAM_ACTIONS" % call
    return ["%s:%s" % (SERVICE_PREFIX.get(service, service), operation)]


def required_actions(by_operation):
    """The permissions of the calls made, and those the calls imply (IMPLIED)."""
    called = {action for call, n in by_operation.items() if n for action in iam_actions(call)}
    implied = {action for call, n in by_operation.items() if n for action, _why, _doc in IMPLIED.get(call, [])}
    return sorted(called | implied)


def test_the_implied_table_says_why_and_where_from():
    """Each implied permission names why and the AWS page it comes from; none is a call's own permission."""
    for call, entries in IMPLIED.items():
        assert call in IAM_ACTIONS or call.split(":", maxsplit=1)[0] != "s3", call
        for action, why, doc in entries:
            assert ":" in action and len(why) > 20 and doc.startswith("https://"), (call, action)
            assert action not in iam_actions(call), "%s: %s is the call's own permission" % (call, action)
    assert required_actions({"s3:PutBucketReplication": 1}) == ["iam:PassRole", "s3:PutReplicationConfiguration"]
    assert "s3:AbortMultipartUpload" in required_actions({"s3:CopyObject": 1})
    assert required_actions({"s3:CopyObject": 0}) == []


def policy_statements():
    """{playbook Sid: [statement]}: the playbook's statement (Sid the playbook's, Resource "*", no
    Condition) and its scoped ones (Sid the playbook's + a suffix, with a Condition)."""
    with open(POLICY, encoding="utf-8") as handle:
        policy = json.load(handle)
    assert policy["Version"] == "2012-10-17"
    out = {}
    for statement in policy["Statement"]:
        sid = statement["Sid"]
        owner = max((p for p in PLAYBOOKS if sid.startswith(p)), key=len, default=None)
        assert owner, "%s: a statement's Sid starts with its playbook's" % sid
        assert statement["Effect"] == "Allow", sid
        assert statement["Action"] == sorted(set(statement["Action"])), "%s: sorted, no duplicates" % sid
        if sid == owner:
            assert statement["Resource"] == "*" and "Condition" not in statement, sid
        else:
            assert statement.get("Condition"), "%s: a statement of its own is scoped by a Condition" % sid
        out.setdefault(owner, []).append(statement)
    return out


def rbac_rules():
    """[(kind, namespace, group, resource, verb)] granted by docs/k8s-rbac.yml, and the URL grants."""
    with open(RBAC, encoding="utf-8") as handle:
        docs = [d for d in yaml.safe_load_all(handle) if d]
    docs = [item for doc in docs for item in (doc.get("items", []) if doc.get("kind") == "List" else [doc])]
    grants, urls = set(), set()
    for doc in docs:
        if doc["kind"] not in ("Role", "ClusterRole"):
            continue
        namespace = doc["metadata"].get("namespace")
        for rule in doc.get("rules", []):
            for verb in rule["verbs"]:
                for url in rule.get("nonResourceURLs", []):
                    urls.add((url, verb))
                for group in rule.get("apiGroups", []):
                    for resource in rule.get("resources", []):
                        grants.add((namespace, group, resource, verb))
    return grants, urls


class LockWatch:
    """Every value the lock parameter holds while the runs go, read every 0.1 s; its own reads are
    counted so that they can be taken out of the world's call counts."""

    def __init__(self, world):
        self.ssm = world.client("ssm", "eu-west-2")
        self.values, self.reads = set(), 0
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._watch, daemon=True)
        self.thread.start()

    def _watch(self):
        while not self.stop_event.wait(0.1):
            self.reads += 1
            try:
                self.values.add(self.ssm.get_parameter(Name=LOCK_NAME)["Parameter"]["Value"])
            except self.ssm.exceptions.ParameterNotFound:
                pass

    def stop(self):
        self.stop_event.set()
        self.thread.join()


@pytest.fixture(scope="module")
def journey(world_endpoint, k8s_cluster, tmp_path_factory):
    """failover (eu-west-1 down), failback (it answers again), DNS drill: what each called and wrote."""
    if not os.environ.get("KUBECONFIG"):
        pytest.skip("needs the Kubernetes control planes: scripts/with-world.sh --k8s")
    tmp = tmp_path_factory.mktemp("privilege")
    world = World(world_endpoint)
    world.reset()
    world.info = world.seed(lag_seconds=5, outage_writes=True)  # failback copies S3 back
    world.configure(promotion_seconds=1, resolver_ttl_seconds=1, dns_propagation_seconds=0.5)
    k8s_cluster.reset()
    passwords = set()
    for region in ("eu-west-1", "eu-west-2"):
        for secret in k8s_cluster.api(region)[1].list_namespaced_secret(NAMESPACE).items:
            if (secret.data or {}).get("DB_PASSWORD"):
                passwords.add(base64.b64decode(secret.data["DB_PASSWORD"]).decode())
    assert len(passwords) >= 8, "the seed gives every database Secret a password"
    with open(os.environ["KUBECONFIG"], encoding="utf-8") as handle:
        token = yaml.safe_load(handle)["users"][0]["user"]["token"]
    stripe_key = "sk_live_" + secrets.token_hex(16)
    slack, stripe = start_slack(), start_stripe(stripe_key, [STRIPE_GLOBAL])
    recorder = KubeRecorder(os.environ["KUBECONFIG"])
    reports = tmp / "reports"
    env = {"KUBECONFIG": recorder.kubeconfig(str(tmp)), "SLACK_WEBHOOK_URL": slack.webhook_url,
           "STRIPE_API_KEY": stripe_key, "LOMASHWOOD_REPORT_DIR": str(reports),
           "LOMASHWOOD_CHAOS_LOG": str(tmp / "chaos-testing.md")}
    runs = {}
    watch = None
    try:
        for sid, playbook in PLAYBOOKS.items():
            if sid == "Failover":
                world.region_down("eu-west-1")
            else:
                world.region_up("eu-west-1")
            if sid == "Failback":
                # CRR was paused while eu-west-1 was down: failback turns it on again, writing the rule
                # with its role (PutBucketReplication, which passes the role to S3).
                media = world.info["s3"]
                s3 = world.client("s3", media["primary_region"])
                config = s3.get_bucket_replication(Bucket=media["primary_bucket"])["ReplicationConfiguration"]
                for rule in config["Rules"]:
                    rule["Status"] = "Disabled"
                s3.put_bucket_replication(Bucket=media["primary_bucket"], ReplicationConfiguration=config)
            extra = {"dr_incident_id": "INC-LP1" if sid != "DnsDrill" else "DRILL-LP1"}
            if sid == "Failover":
                extra.update(dr_stripe_api_base=stripe.url, dr_stripe_region_webhook_url=STRIPE_REGIONAL,
                             dr_reason="least privilege run")
            world.reset_calls()
            recorder.take()
            watch = LockWatch(world)
            proc = run_playbook(playbook, env=env, extra_vars=extra, diff=True, verbosity=4, timeout=900)
            watch.stop()
            by_operation = dict(world.calls()["by_operation"])
            by_operation["ssm:GetParameter"] = by_operation.get("ssm:GetParameter", 0) - watch.reads
            assert proc.returncode == 0, "%s failed:\n%s" % (playbook, proc.stdout[-4000:])
            runs[sid] = {"calls": by_operation, "kube": recorder.take(), "output": proc.stdout + proc.stderr,
                         "lock_values": set(watch.values)}
            watch = None
    finally:
        if watch:
            watch.stop()
        recorder.stop()
        slack.stop()
        stripe.stop()
        world.region_up("eu-west-1")
    assert stripe.calls, "the Stripe endpoint was updated, with the key"
    files = [p for p in glob.glob(str(tmp / "**" / "*"), recursive=True)
             if os.path.isfile(p) and "kubeconfig" not in os.path.basename(p)]
    if os.environ.get("LOMASHWOOD_DUMP_JOURNEY"):  # for writing the policy: what was called
        with open(os.environ["LOMASHWOOD_DUMP_JOURNEY"], "w", encoding="utf-8") as handle:
            json.dump({sid: {"calls": run["calls"], "kube": run["kube"]} for sid, run in runs.items()}, handle, indent=1)
    yield {"runs": runs, "files": files, "info": world.info, "secrets": {
        "DB password": sorted(passwords), "Slack webhook": [slack.webhook_url, slack.webhook_url.rsplit("/", 1)[1]],
        "Stripe key": [stripe_key], "kubeconfig token": [token]}}
    k8s_cluster.reset()


def test_every_aws_call_is_in_the_policy_and_the_policy_grants_nothing_else(journey):
    statements = policy_statements()
    assert sorted(statements) == sorted(PLAYBOOKS), "one statement per playbook"
    problems, outside = [], 0
    for sid, run in journey["runs"].items():
        needed = set(required_actions(run["calls"]))
        granted = {action for statement in statements[sid] for action in statement["Action"]}
        outside += len(needed - granted)
        if needed - granted:
            problems.append("%s calls (or its calls imply) what its statements lack: %s" % (sid, sorted(needed - granted)))
        if granted - needed:
            problems.append("%s's statements grant what it never called nor implied: %s" % (sid, sorted(granted - needed)))
        for statement in statements[sid]:
            for action in statement["Action"]:
                if action in SCOPED_STATEMENTS and not SCOPED_STATEMENTS[action](statement, journey["info"]):
                    problems.append("%s: %s granted unscoped or scoped wrong: %s" % (statement["Sid"], action, statement))
    print("calls outside the policy: %d" % outside)
    implied = sorted({(call, action) for run in journey["runs"].values() for call, n in run["calls"].items()
                      if n for action, _why, _doc in IMPLIED.get(call, [])})
    print("implied: %s" % implied)
    assert not problems, "\n".join(problems) + "\ncalls: " + json.dumps(
        {sid: {c: n for c, n in run["calls"].items() if n} for sid, run in journey["runs"].items()}, indent=1, sort_keys=True)
    # the paths the implied permissions stand for were taken: the CRR rule written with its role,
    # SSE-KMS objects copied, encrypted replicas created
    assert {"iam:PassRole", "kms:Decrypt", "kms:GenerateDataKey", "kms:CreateGrant"} <= {a for _c, a in implied}


def test_every_kubernetes_request_is_in_the_rbac_and_the_rbac_grants_nothing_else(journey):
    grants, urls = rbac_rules()
    used, problems = set(), []
    for sid, run in journey["runs"].items():
        for cluster, method, path in run["kube"]:
            req = rbac_request(method, path)
            if "url" in req:
                key = (req["url"], req["verb"])
                if key not in urls:
                    problems.append("%s %s: %s %s (non-resource URL) not granted" % (sid, cluster, method, path))
                used.add(("url",) + key)
                continue
            key = (req["namespace"], req["group"], req["resource"], req["verb"])
            if key not in grants and (None,) + key[1:] not in grants:
                problems.append("%s %s: %s %s needs %s" % (sid, cluster, method, path, key))
            used.add(key if key in grants else (None,) + key[1:])
    unused = sorted(g for g in grants if g not in used) + sorted(u for u in urls if ("url",) + u not in used)
    if unused:
        problems.append("granted but never requested: %s" % unused)
    assert all(run["kube"] for run in journey["runs"].values()), "every playbook talks to Kubernetes"
    assert not problems, "\n".join(problems)


def test_no_secret_reaches_the_output_the_reports_or_the_lock(journey):
    written = {"%s output (-vvvv --diff)" % sid: run["output"] for sid, run in journey["runs"].items()}
    for sid, run in journey["runs"].items():
        written.update(("%s lock value %d" % (sid, i), value) for i, value in enumerate(sorted(run["lock_values"])))
    assert any("lock value" in where for where in written), "the lock was seen held"
    for path in journey["files"]:
        with open(path, encoding="utf-8", errors="replace") as handle:
            written[os.path.relpath(path)] = handle.read()
    assert any(p.endswith(".json") for p in journey["files"]) and any(p.endswith(".md") for p in journey["files"])
    leaks = []
    for kind, values in journey["secrets"].items():
        for value in values:
            forms = {value, base64.b64encode(value.encode()).decode()}
            for where, text in written.items():
                if any(form in text for form in forms):
                    leaks.append("%s in %s" % (kind, where))
    assert "censored" in journey["runs"]["Failover"]["output"]  # no_log tasks ran, hidden
    assert not leaks, "\n".join(sorted(set(leaks)))
