#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Lomash Wood
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: s3_crr_sync
short_description: S3 cross-region replication for a failover - its health, the copy-back, its direction
version_added: 0.1.0
description:
  - The S3 part of a regional failover and failback, for a bucket replicated to another region (CRR).
  - I(mode=status) reads the source bucket's replication rule (present, enabled, direction, role, destination)
    and the objects replication has not brought to the destination yet, by their C(ReplicationStatus)
    (C(PENDING), which AWS resumes once the other region is back, and C(FAILED), which it never retries) -
    count, bytes, the oldest, the first keys. The S3 RPO estimate is the oldest C(PENDING) object's age,
    or CloudWatch C(ReplicationLatency) where it is published. Changes nothing.
  - I(mode=sync) copies to the destination every current object of the source that is missing or different
    there (optionally only those modified after I(modified_since), under I(prefix)) - failback's copy-back of
    what was written in the standby region while the primary was down. Copies are server-side (nothing is
    downloaded, neither to copy nor to compare), concurrent, start while the buckets are still being listed,
    are of the exact version inspected, multipart
    (C(UploadPartCopy)) above I(multipart_threshold), and keep content type, metadata, tags, storage class
    and encryption (SSE-KMS with I(kms_key_id), a key of the destination region).
  - Whether two objects differ is decided from size, ETag, full-object checksums and what an earlier copy
    recorded (the source ETag, in the destination's metadata key C(lomashwood-source-etag), written only
    where the copy's ETag cannot equal the source's - multipart and SSE-KMS objects), never by ETag alone
    and never by downloading. What cannot be shown equal is copied.
  - An object that is itself a C(REPLICA) (it came from the destination by replication) is not copied back.
    An object newer in the destination than in the source is kept, and reported.
  - Deletions made in the source propagate only with I(delete=true) - keys whose latest version in the
    (versioned) source is a delete marker, newer than the destination's object - and check mode lists them
    first. In a versioned destination a deletion is a delete marker and the data stays as a noncurrent version.
  - One object that fails to copy is reported by key with its error; the others are still copied, and the
    run fails at the end. So is an object that cannot be copied keeping its encryption (SSE-KMS without
    I(kms_key_id), or SSE-C); check mode refuses the run over such objects, naming them. Run again to copy what is left; what was copied is not copied again.
  - I(mode=replication) ensures the CRR rule from the source to the destination (role, destination, status),
    keeping the configuration's other rules - failback restores C(eu-west-1) to C(eu-west-2), and a failover may
    set C(eu-west-2) to C(eu-west-1) for later.
  - Before any change every input is checked and each problem named - a missing bucket, the same source and
    destination, a bucket in another region than stated, a bad prefix or time, a KMS key of another region.
author:
  - Lomash Wood platform team (@lomashwood)
options:
  mode:
    description: What to do; see the description.
    type: str
    required: true
    choices: [status, sync, replication]
  source:
    description: The bucket objects are replicated or copied from.
    type: dict
    required: true
    suboptions:
      bucket:
        description: The bucket's name.
        type: str
        required: true
      region:
        description: The bucket's region; a bucket found in another region is refused.
        type: str
        required: true
  destination:
    description:
      - The bucket objects are replicated or copied to. Required with I(mode=sync) and I(mode=replication);
        with I(mode=status) it defaults to the rule's destination.
    type: dict
    suboptions:
      bucket:
        description: The bucket's name.
        type: str
        required: true
      region:
        description: The bucket's region; a bucket found in another region is refused.
        type: str
        required: true
  prefix:
    description:
      - Only keys under this prefix (I(mode=status), I(mode=sync)); the rule's filter with I(mode=replication).
    type: str
    default: ""
  modified_since:
    description:
      - Only objects modified after this time (for example the failover's start), ISO 8601
        (C(2026-12-03T09:15:00Z); a time without zone is UTC) or seconds since the epoch. Not in the future.
    type: str
  delete:
    description:
      - With I(mode=sync), delete in the destination the keys deleted in the source (the source must be versioned).
    type: bool
    default: false
  kms_key_id:
    description:
      - The KMS key (id, ARN or alias) of the destination's region that SSE-KMS objects are encrypted with there.
        Required when an object to copy is SSE-KMS encrypted; without it such an object fails, by key.
    type: str
  multipart_threshold:
    description: Objects larger than this many bytes are copied in parts (at most 5 GiB, S3's single-copy limit).
    type: int
    default: 5368709120
  part_size:
    description: Bytes per part of a multipart copy (5 MiB to 5 GiB; grown when 10,000 parts would not be enough).
    type: int
    default: 536870912
  sample_size:
    description: How many keys each group of objects in the result names.
    type: int
    default: 10
  replication:
    description: With I(mode=replication), the rule to ensure.
    type: dict
    suboptions:
      rule_id:
        description: The rule's id. Default C(crr-to-<destination region>).
        type: str
      role:
        description: The IAM role S3 replicates as, by name or ARN. Required when the rule is present.
        type: str
      status:
        description: Whether the rule replicates.
        type: str
        choices: [enabled, disabled]
        default: enabled
      state:
        description: C(absent) removes the rule (and the configuration, when it was the only rule).
        type: str
        choices: [present, absent]
        default: present
      priority:
        description: The rule's priority among the configuration's rules.
        type: int
        default: 1
      delete_marker_replication:
        description: Replicate delete markers too.
        type: bool
        default: true
      storage_class:
        description: The storage class of the replicas.
        type: str
        default: STANDARD
      replica_kms_key_id:
        description: Replicate SSE-KMS objects too, encrypted there with this key of the destination region.
        type: str
  max_concurrency:
    description:
      - How many objects are inspected or copied at the same time (S3 takes thousands of requests a
        second per prefix; 64 copied 1,000 objects about 15 % faster than 32 in the benchmark).
    type: int
    default: 64
  progress_file:
    description:
      - A file the copy's progress is written to every second while I(mode=sync) copies (JSON,
        replaced atomically), saying how many differences were found, copied and failed so far, and how much of the
        source was listed. The collection's action plugin sets it itself when the task runs on the
        controller, and prints a line from it now and then while the copy runs.
    type: path
extends_documentation_fragment:
  - lomashwood.multiregion.attributes
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
notes:
  - Listing costs one C(ListObjectsV2) per 1,000 keys of each bucket (with I(delete=true), the source's
    C(ListObjectVersions) per 1,000 versions); the two buckets are listed at the same time, and only the
    differences are held in memory.
  - Each object to copy costs one C(HeadObject) (its replication status, metadata and encryption) and one
    C(CopyObject); an object of equal size and another ETag costs a C(HeadObject) of each side.
  - The module's I(region) is not used; each bucket is reached in its own region.
  - A C(CopyObject) whose answer is lost after S3 served it is tried again by the SDK; in a versioned
    destination that leaves a second, equal version of the key (the same bytes and metadata, the current
    one). The summary counts objects, not calls, so that object is one copy; RV(api_calls) shows the repeat.
"""

EXAMPLES = r"""
- name: Is CRR healthy, and how far behind is it?
  lomashwood.multiregion.s3_crr_sync:
    mode: status
    source: {bucket: lomash-wood-media-prod, region: eu-west-1}
  register: crr

- name: Failback - copy what eu-west-2 wrote during the outage back to eu-west-1 (preview first with --check)
  lomashwood.multiregion.s3_crr_sync:
    mode: sync
    source: {bucket: lomash-wood-media-prod-replica, region: eu-west-2}
    destination: {bucket: lomash-wood-media-prod, region: eu-west-1}
    modified_since: "{{ failover_started_at }}"
    kms_key_id: alias/lomash-wood-media
    delete: true

- name: Failback - replication back to eu-west-1 -> eu-west-2
  lomashwood.multiregion.s3_crr_sync:
    mode: replication
    source: {bucket: lomash-wood-media-prod, region: eu-west-1}
    destination: {bucket: lomash-wood-media-prod-replica, region: eu-west-2}
    replication: {rule_id: crr-to-eu-west-2, role: lomash-wood-s3-crr}

- name: Failback - and the reverse rule of the outage off
  lomashwood.multiregion.s3_crr_sync:
    mode: replication
    source: {bucket: lomash-wood-media-prod-replica, region: eu-west-2}
    destination: {bucket: lomash-wood-media-prod, region: eu-west-1}
    replication: {rule_id: crr-to-eu-west-1, role: lomash-wood-s3-crr, status: disabled}
"""

RETURN = r"""
changed:
  description: Whether something was copied, deleted or the rule written (in check mode, would be).
  returned: always
  type: bool
plan:
  description: The copies and deletions (I(mode=sync)) or the rule change (I(mode=replication)), in key order.
  returned: always
  type: list
  elements: dict
  sample: [{"name": "uploads/a.jpg", "action": "copy", "reason": "missing", "bytes": 2048, "changed": true}]
results:
  description:
    - One entry per object copied or deleted (I(mode=sync)), per rule (I(mode=replication)), or the bucket
      (I(mode=status)). C(before) is the destination's object and C(after) what it is (or would be) after the
      run - C(size), C(etag), C(last_modified). C(error) names what failed.
  returned: always
  type: list
  elements: dict
  sample: [{"name": "uploads/a.jpg", "action": "copy", "reason": "missing", "changed": true, "bytes": 2048,
            "before": null, "after": {"size": 2048, "etag": "\"9b2c...\""}, "seconds": 0.4, "error": null}]
summary:
  description:
    - I(mode=sync). C(copy) and C(delete) (count, bytes, first keys; done, or to do in check mode), C(failed)
      (count and C(errors) by key), C(skipped_replicas), C(kept_newer) (newer in the destination),
      C(unchanged) and C(older) (before I(modified_since)) counts, C(listed) per bucket,
      C(objects_per_second).
  returned: when mode is sync
  type: dict
status:
  description:
    - I(mode=status). C(rule) (id, status, priority, prefix, destination_bucket, role, ...; null without one),
      C(direction) (C(eu-west-1 -> eu-west-2)), C(versioning) per bucket, C(pending) and C(failed) (count, bytes,
      oldest, oldest_age_seconds, first_keys), C(missing_without_status), C(rpo) (C(oldest_pending_age_seconds),
      C(replication_latency_seconds), C(estimate_seconds)), C(listed) per bucket.
  returned: when mode is status
  type: dict
rule:
  description: I(mode=replication). The rule as it is after the run (or would be, in check mode).
  returned: when mode is replication
  type: dict
elapsed_seconds:
  description: Wall time of the module run, in seconds.
  returned: always
  type: float
api_calls:
  description: API operations made, counted by name (retries included), to compare runs.
  returned: always
  type: dict
  sample: {"ListObjectsV2": 20, "HeadObject": 1000, "CopyObject": 1000}
"""

import datetime
import itertools
import queue
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.lomashwood.multiregion.plugins.module_utils import aws
from ansible_collections.lomashwood.multiregion.plugins.module_utils import s3 as core
from ansible_collections.lomashwood.multiregion.plugins.module_utils.batch import (
    Adapter, ApiCallCounter, BatchError, diff_of, execute, run_concurrently, write_progress)

BUCKET_OPTIONS = dict(bucket=dict(type="str", required=True), region=dict(type="str", required=True))


def _now():
    return datetime.datetime.now(datetime.timezone.utc)


def prefetched(items, depth=2):
    """The items of an iterator, read ahead by a thread started now (at most depth waiting), so two
    listings run at once from their first page on.

    The items are pages: handing over single keys would cost a thread switch per key, which, among
    the busy copy threads, made listing 10,000 keys take seconds instead of ten round trips."""
    box = queue.Queue(maxsize=depth)
    end = object()

    def read():
        try:
            for item in items:
                box.put((item, None))
        except Exception as exc:  # pylint: disable=broad-except
            box.put((None, exc))
        box.put((end, None))

    def drain():
        while True:
            item, exc = box.get()
            if exc is not None:
                raise exc
            if item is end:
                return
            yield item

    threading.Thread(target=read, daemon=True).start()
    return drain()


class _Buckets(Adapter):
    """What the three modes share: a client per region, the buckets checked, the inputs checked."""

    noun = "object"
    refusal = "Refusing to change S3"
    failure = "Failed to"

    def __init__(self, module, counter):
        self.module, self.params, self.counter = module, module.params, counter
        self.source, self.destination = self.params["source"], self.params.get("destination")
        self.clients = {}
        self.now = _now()
        self.since = None

    def s3(self, region):
        if region not in self.clients:
            self.clients[region] = core.fast_client(aws.client(self.module, "s3", self.counter,
                                                               self.params["max_concurrency"], region=region))
        return self.clients[region]

    def input_problems(self):
        p = self.params
        problems = core.check_prefix(p["prefix"])
        self.since, bad_time = core.parse_time(p["modified_since"], self.now)
        problems += bad_time
        if self.destination:
            problems += core.check_pair(self.source, self.destination)
        if p["sample_size"] < 0:
            problems.append("sample_size: must be at least 0, got %s" % p["sample_size"])
        return problems

    def check_buckets(self, problems, versioned=()):
        """Each bucket exists in its stated region (and, for those named in versioned, is versioned)."""
        buckets = [("source", self.source)] + ([("destination", self.destination)] if self.destination else [])

        def check(named):
            role, spec = named
            client = self.s3(spec["region"])
            region = core.bucket_region(client, spec["bucket"])
            if region is None:
                return ["%s.bucket: no bucket %r" % (role, spec["bucket"])]
            if region != spec["region"]:
                return ["%s.region: bucket %r is in %s, not %s" % (role, spec["bucket"], region, spec["region"])]
            if role in versioned and core.versioning(client, spec["bucket"]) != "Enabled":
                return ["%s.bucket: %r is not versioned; %s" % (role, spec["bucket"], versioned[role])]
            return []

        for _named, found, exc in run_concurrently(check, buckets, 2):
            if exc is not None:
                raise exc
            problems.extend(found)
        if problems:
            raise BatchError(problems)

    def describe_error(self, exc):
        error = (getattr(exc, "response", None) or {}).get("Error", {})
        if error.get("Code"):
            return "%s: %s" % (error["Code"], error.get("Message") or "")
        return str(exc)

    def listing(self, spec, latest=False, counts=None):
        pages = core.latest_pages if latest else core.current_pages
        return itertools.chain.from_iterable(
            prefetched(pages(self.s3(spec["region"]), spec["bucket"], self.params["prefix"], counts)))

    def head(self, spec, key):
        """HeadObject (with checksums), or None when the key is gone."""
        try:
            return self.s3(spec["region"]).head_object(Bucket=spec["bucket"], Key=key, ChecksumMode="ENABLED",
                                                       aws_retry=True)
        except Exception as exc:  # pylint: disable=broad-except
            if aws.is_error_code(exc, *core.NOT_FOUND):
                return None
            raise

    def heads(self, spec, keys):
        """{key: HeadObject answer} for these keys, concurrently; a key gone meanwhile maps to None."""
        with ThreadPoolExecutor(max_workers=self.params["max_concurrency"]) as pool:
            asked = {key: pool.submit(self.head, spec, key) for key in keys}
        return {key: answer.result() for key, answer in asked.items()}

    def poll(self):
        return {}

    def is_done(self, action, state):
        return True


class Sync(_Buckets):
    """sync: list both buckets, and inspect and copy each difference as the listings find it.

    A real run copies an object as soon as it is known to differ, while the listings go on (as
    `aws s3 sync` does), instead of listing, then inspecting, then copying: the copies are the
    long part, and they start after the first page. So "observe" here also copies; check mode
    only inspects. An object that cannot be copied (SSE-KMS without kms_key_id, SSE-C) is a
    failure named by key while the others are copied; check mode refuses the run over them.
    Deletions come last, once every copy is done.
    """

    failure = "Failed to copy"

    def __init__(self, module, counter):
        super().__init__(module, counter)
        self.tallies = {name: core.Tally(self.params["sample_size"])
                        for name in ("skipped_replicas", "kept_newer")}
        self.unchanged = self.older = 0
        self.listed = {}
        self.seconds = {}  # per object copied: how long its copy took
        self.started = None
        self.lock = threading.Lock()  # the tallies and the plan, written by the copy threads
        self.actions, self.failures, self.deletions = [], {}, []

    def input_problems(self):
        p = self.params
        problems = super().input_problems()
        if not 5 * core.MIB <= p["multipart_threshold"] <= core.MAX_SINGLE_COPY:
            problems.append("multipart_threshold: %s is not from 5 MiB (5242880) to 5 GiB (5368709120)"
                            % p["multipart_threshold"])
        if not core.MIN_PART <= p["part_size"] <= core.MAX_SINGLE_COPY:
            problems.append("part_size: %s is not from 5 MiB (5242880) to 5 GiB (5368709120)" % p["part_size"])
        key_region = core.kms_key_region(p["kms_key_id"])
        if key_region and key_region != self.destination["region"]:
            problems.append("kms_key_id: %s is a key of %s, not of the destination's region %s"
                            % (p["kms_key_id"], key_region, self.destination["region"]))
        return problems

    def observe(self):
        # Dozens of threads each wake up from a round trip for a moment of CPU: handing the GIL over after
        # 1 ms of another thread's work instead of 5 ms copied 1,000 objects ~0.1 s (2.5 %) faster in the
        # benchmark (8 runs each, twice; 0.2 ms was no better than 5). This process is the module's alone.
        sys.setswitchinterval(0.001)
        p = self.params
        problems = self.input_problems()
        self.s3(self.source["region"]), self.s3(self.destination["region"])  # made here, not by two threads at once
        streams, side = None, {}
        if not problems:
            # The listings and the other reads start beside the buckets' checks (each a round trip); nothing
            # is inspected or copied before the checks have passed, and a check's error is the one reported.
            streams = (self.listing(self.source, latest=p["delete"], counts=self.listed),
                       self.listing(self.destination, counts=self.listed))
            reads = ThreadPoolExecutor(max_workers=2)
            if p["kms_key_id"]:
                side["kms_key"] = reads.submit(self.check_kms_key)
            side["destination_kms"] = reads.submit(core.default_kms, self.s3(self.destination["region"]),
                                                   self.destination["bucket"])
            reads.shutdown(wait=False)
        self.check_buckets(problems, versioned=dict(source="delete=true needs the source's delete markers") if p["delete"] else {})
        if "kms_key" in side:
            side["kms_key"].result()
        self.destination_kms = side["destination_kms"].result()
        self.started = time.monotonic()
        before = {}
        stop = threading.Event()
        if p["progress_file"] and not self.module.check_mode:
            threading.Thread(target=self.show_progress, args=(before, stop), daemon=True).start()
        try:
            # Submitted as the listings find them; the pool's queue holds only the differences.
            with ThreadPoolExecutor(max_workers=p["max_concurrency"]) as pool:
                for candidate in self.differing(*streams):
                    before[candidate[0]] = candidate[2]
                    pool.submit(self.settle, candidate)
        finally:
            stop.set()
        return before

    def show_progress(self, found, stop, every=1.0):
        """Write the copy's progress every second while it runs (the action plugin prints it):
        differences found so far, copied, failed, and how much of the source was listed."""
        while not stop.wait(every):
            with self.lock:
                copied = list(self.seconds)
                failed = len(self.failures)
            listed = self.listed.get(self.source["bucket"], 0)
            write_progress(self.params["progress_file"], "objects", len(found), copied[-3:], {},
                           time.monotonic() - self.started, done_word="copied", done_count=len(copied),
                           note="%d failed, %d listed in the source so far" % (failed, listed))

    def differing(self, source, destination):
        """(key, source item, destination item, quick verdict) of each key that may need a copy, as
        the merged listings (source, destination) find it (deletions kept aside)."""
        p = self.params
        for key, src, dst in core.merge(source, destination):
            if src is None:
                continue  # only in the destination: not ours to judge
            if src.deleted:
                if p["delete"] and dst is not None and (self.since is None or src.last_modified >= self.since):
                    if dst.last_modified > src.last_modified:
                        self.tallies["kept_newer"].add(key, dst.size, dst.last_modified)
                    else:
                        self.deletions.append(core.DeleteObject(key, dst, src))
                continue
            if self.since is not None and src.last_modified < self.since:
                self.older += 1
                continue
            verdict = core.quick_verdict(src, dst)
            if verdict is None:
                with self.lock:
                    self.unchanged += 1
            elif dst is not None and dst.last_modified > src.last_modified:
                self.tallies["kept_newer"].add(key, dst.size, dst.last_modified)
            else:
                yield key, src, dst, verdict

    def settle(self, candidate):
        """Inspect one difference and, in a real run, copy it. Any error is kept by key."""
        key, src, dst, verdict = candidate
        action = core.CopyObject(key, verdict, src, dst, multipart=src.size > self.params["multipart_threshold"])
        try:
            action.head = self.head(self.source, key)
            if not self.decide(action):
                return
            problem = core.copy_problem(action.head, self.params["kms_key_id"])
            if problem:
                raise core.CopyRefused(problem)
            if not self.module.check_mode:
                self.copy(action)
        except Exception as exc:  # pylint: disable=broad-except
            with self.lock:
                self.failures[key] = exc
        with self.lock:
            self.actions.append(action)

    def decide(self, action):
        """Whether the object is to be copied (the reason set on the action), from its HeadObject.

        The destination is read only when its ETag cannot settle it: when the source's ETag is its
        MD5 and the destination does not encrypt with KMS by default, a different ETag is different
        content, or the same content under another ETag, which a copy makes equal (it loses nothing,
        and the rerun finds equal ETags).
        """
        head = action.head
        if head is None:
            return False  # deleted in the source since it was listed
        if head.get("ReplicationStatus") == "REPLICA":
            with self.lock:
                self.tallies["skipped_replicas"].add(action.name, action.size, action.source.last_modified)
            return False
        if action.reason == "unknown" and (self.destination_kms or not core.plain_md5(head)):
            other = self.head(self.destination, action.name)
            action.reason = core.head_verdict(head, other) if other else "missing"
            if action.reason is None:
                with self.lock:
                    self.unchanged += 1
                return False
        elif action.reason == "unknown":
            action.reason = "etag"
        return True

    def copy(self, action):
        p = self.params
        client = self.s3(self.destination["region"])
        started = time.monotonic()
        if action.multipart:
            tags = core.tag_dict(self.s3(self.source["region"]), self.source["bucket"], action)
            core.multipart_copy(client, self.destination["bucket"], action, self.source["bucket"],
                                p["kms_key_id"], self.destination_kms, p["part_size"], tags, self.run_parts)
        else:
            core.copy_object(client, self.destination["bucket"], action, self.source["bucket"], p["kms_key_id"],
                             self.destination_kms)
        with self.lock:  # read by show_progress
            self.seconds[action.name] = round(time.monotonic() - started, 2)

    def check_kms_key(self):
        kms = aws.client(self.module, "kms", self.counter, region=self.destination["region"])
        try:
            kms.describe_key(KeyId=self.params["kms_key_id"], aws_retry=True)
        except Exception as exc:  # pylint: disable=broad-except
            if aws.is_error_code(exc, "NotFoundException", "InvalidArnException"):
                raise BatchError(["kms_key_id: no KMS key %r in %s" % (self.params["kms_key_id"], self.destination["region"])])
            raise

    def plan(self, observed):
        if self.module.check_mode:
            problems = core.encryption_problems(self.actions, self.params["kms_key_id"])
            if problems:
                raise BatchError(problems)
            for key in sorted(self.failures):  # an object that could not be read: the rehearsal fails
                if not isinstance(self.failures[key], core.CopyRefused):
                    raise self.failures[key]
        return sorted(self.actions, key=lambda a: a.name) + sorted(self.deletions, key=lambda a: a.name)

    def simulate(self, plan, observed):
        return {a.name: None if a.action == "delete" else a.source for a in plan}

    def apply(self, plan):
        """The copies are done (observe); the deletions, 1,000 keys a call, once they are."""
        failures = dict(self.failures)
        deletions = [a.name for a in plan if a.action == "delete"]
        if deletions:
            client = self.s3(self.destination["region"])
            for key, message in core.delete_objects(client, self.destination["bucket"], deletions).items():
                failures[key] = Exception(message)
        return plan, failures

    def run_parts(self, func, parts):
        outcomes = run_concurrently(func, parts, self.params["max_concurrency"])
        failed = [exc for _part, _answer, exc in outcomes if exc is not None]
        if failed:
            raise failed[0]
        return [answer for _part, answer, _exc in outcomes]

    @staticmethod
    def end_state(action, error):
        """The destination's object after the run: gone, the source's copy, or (after an error) as it was."""
        if error is not None:
            return action.current.view() if action.current else None
        return None if action.action == "delete" else action.source.view()

    def summarise(self, plan, before, after, done, failures, check_mode):
        results, copied, deleted = [], core.Tally(self.params["sample_size"]), core.Tally(self.params["sample_size"])
        for a in plan:
            error = failures.get(a.name)
            results.append(dict(
                name=a.name, action=a.as_dict()["action"], reason=a.reason, changed=error is None,
                bytes=a.source.size if a.action == "copy" else a.current.size,
                before=a.current.view() if a.current else None,
                after=self.end_state(a, error),
                seconds=self.seconds.get(a.name), error=self.describe_error(error) if error else None))
            if error is None:
                (deleted if a.action == "delete" else copied).add(a.name, results[-1]["bytes"])
        seconds = time.monotonic() - self.started if self.started else 0
        summary = dict(
            copy=copied.as_dict(), delete=deleted.as_dict(),
            failed=dict(count=len(failures), errors={k: self.describe_error(e) for k, e in sorted(failures.items())}),
            unchanged=self.unchanged, older=self.older, listed=dict(self.listed),
            objects_per_second=round(copied.count / seconds, 1) if seconds and not check_mode else None,
            **{name: tally.as_dict() for name, tally in self.tallies.items()})
        return dict(results=results, summary=summary,
                    diff=diff_of(results, key="objects", bucket=self.destination["bucket"]))


class Status(_Buckets):
    """status: the rule, and the objects replication has not brought over yet, by ReplicationStatus."""

    failure = "Failed to read the replication status"

    def observe(self):
        problems = self.input_problems()
        self.check_buckets(problems)
        source_client = self.s3(self.source["region"])
        self.config = core.read_replication(source_client, self.source["bucket"])
        self.rule = core.find_rule(self.config, destination_bucket=(self.destination or {}).get("bucket"))
        if self.destination is None and self.rule is not None:
            bucket = core.rule_view(self.rule)["destination_bucket"]
            self.destination = dict(bucket=bucket, region=core.location(source_client, bucket))
        self.listed = {}
        self.groups = {name: core.Tally(self.params["sample_size"]) for name in ("pending", "failed", "missing_without_status")}
        self.versioning = {self.source["bucket"]: core.versioning(source_client, self.source["bucket"])}
        if self.destination is None:
            return {self.source["bucket"]: None}
        self.versioning[self.destination["bucket"]] = core.versioning(self.s3(self.destination["region"]),
                                                                      self.destination["bucket"])
        unreplicated = []
        for key, src, dst in core.merge(self.listing(self.source, counts=self.listed),
                                        self.listing(self.destination, counts=self.listed)):
            if src is None or (self.since is not None and src.last_modified < self.since):
                continue
            if core.quick_verdict(src, dst) in ("missing", "size"):
                unreplicated.append(src)
        heads = self.heads(self.source, [s.key for s in unreplicated])
        for src in unreplicated:
            state = (heads.get(src.key) or {}).get("ReplicationStatus")
            group = {"PENDING": "pending", "FAILED": "failed", None: "missing_without_status"}.get(state)
            if group:
                self.groups[group].add(src.key, src.size, src.last_modified)
        return {self.source["bucket"]: self.rule}

    def plan(self, observed):
        return []

    def simulate(self, plan, observed):
        return observed

    def apply(self, plan):
        return plan, {}

    def summarise(self, plan, before, after, done, failures, check_mode):
        role = (self.config or {}).get("Role")
        rule = core.rule_view(self.rule, role)
        latency = None
        if self.rule is not None and self.destination is not None:
            cloudwatch = aws.client(self.module, "cloudwatch", self.counter, region=self.source["region"])
            latency = core.replication_latency(cloudwatch, self.source["bucket"], self.destination["bucket"],
                                               self.rule.get("ID"), self.now)
        groups = {name: tally.as_dict(self.now) for name, tally in self.groups.items()}
        pending_age = groups["pending"]["oldest_age_seconds"]
        estimates = [v for v in (pending_age, latency) if v is not None]
        status = dict(
            rule=rule, enabled=bool(rule and rule["status"] == "Enabled"),
            direction="%s -> %s" % (self.source["region"], self.destination["region"]) if rule and self.destination else None,
            destination=self.destination, versioning=self.versioning, listed=dict(self.listed),
            rpo=dict(oldest_pending_age_seconds=pending_age, replication_latency_seconds=latency,
                     estimate_seconds=max(estimates) if estimates else 0.0),
            **groups)
        result = dict(name=self.source["bucket"], action="status", changed=False, before=rule, after=rule,
                      seconds=None, error=None)
        return dict(results=[result], status=status)


class Replication(_Buckets):
    """replication: the CRR rule from the source to the destination, other rules kept."""

    noun = "replication rule"
    failure = "Failed to write the replication rule"

    def observe(self):
        spec = self.params["replication"] or dict(state="present")
        problems = self.input_problems()
        if not self.params["replication"]:
            problems.append("replication: required with mode=replication")
        elif spec["state"] == "present" and not spec.get("role"):
            problems.append("replication.role: required when the rule is present")
        versioned = dict(source="S3 replication needs versioning on both buckets",
                         destination="S3 replication needs versioning on both buckets")
        self.check_buckets(problems, versioned=versioned if spec.get("state") == "present" else {})
        self.spec = dict(spec, rule_id=spec.get("rule_id") or "crr-to-%s" % self.destination["region"])
        self.role_arn = None
        if spec["state"] == "present":
            iam = aws.client(self.module, "iam", self.counter)
            self.role_arn = core.role_arn(iam, spec["role"])
            if self.role_arn is None:
                raise BatchError(["replication.role: no IAM role %r" % spec["role"]])
        self.config = core.read_replication(self.s3(self.source["region"]), self.source["bucket"])
        return {self.spec["rule_id"]: core.find_rule(self.config, self.spec["rule_id"])}

    def plan(self, observed):
        current = observed[self.spec["rule_id"]]
        absent = self.spec["state"] == "absent"
        wanted = None if absent else core.wanted_rule(self.spec, self.destination["bucket"], self.params["prefix"])
        role_now = (self.config or {}).get("Role")
        before = core.rule_view(current, role_now if current else None)
        after = core.rule_view(wanted, self.role_arn)
        return [RuleChange(self.spec["rule_id"], before, after, wanted, absent)]

    def simulate(self, plan, observed):
        return {a.name: a.after for a in plan}

    def apply(self, plan):
        action = plan[0]
        client = self.s3(self.source["region"])
        config = core.merged_config(self.config, action.rule or {"ID": action.name}, self.role_arn, action.absent)
        if config is None:
            client.delete_bucket_replication(Bucket=self.source["bucket"], aws_retry=True)
        else:
            client.put_bucket_replication(Bucket=self.source["bucket"], ReplicationConfiguration=config, aws_retry=True)
        return plan, {}

    def summarise(self, plan, before, after, done, failures, check_mode):
        action = plan[0]
        result = dict(name=action.name, action=action.action, changed=action.changed, before=action.before,
                      after=action.after, seconds=None, error=None)
        return dict(results=[result], rule=action.after,
                    diff=diff_of([result], key="rules", bucket=self.source["bucket"]))


class RuleChange:
    """Put (or remove) one replication rule."""

    def __init__(self, name, before, after, rule, absent):
        self.name, self.before, self.after, self.rule, self.absent = name, before, after, rule, absent
        self.changed = before != after
        self.action = ("remove" if absent else "create" if before is None else "update") if self.changed else "none"

    def as_dict(self):
        return dict(name=self.name, action=self.action, changed=self.changed)


ADAPTERS = dict(status=Status, sync=Sync, replication=Replication)


def main():
    argument_spec = dict(
        mode=dict(type="str", required=True, choices=sorted(ADAPTERS)),
        source=dict(type="dict", required=True, options=BUCKET_OPTIONS),
        destination=dict(type="dict", options=BUCKET_OPTIONS),
        prefix=dict(type="str", default=""),
        modified_since=dict(type="str"),
        delete=dict(type="bool", default=False),
        kms_key_id=dict(type="str"),
        multipart_threshold=dict(type="int", default=core.MAX_SINGLE_COPY),
        part_size=dict(type="int", default=512 * core.MIB),
        sample_size=dict(type="int", default=10),
        replication=dict(type="dict", options=dict(
            rule_id=dict(type="str"),
            role=dict(type="str"),
            status=dict(type="str", choices=["enabled", "disabled"], default="enabled"),
            state=dict(type="str", choices=["present", "absent"], default="present"),
            priority=dict(type="int", default=1),
            delete_marker_replication=dict(type="bool", default=True),
            storage_class=dict(type="str", default="STANDARD"),
            replica_kms_key_id=dict(type="str"),
        )),
        max_concurrency=dict(type="int", default=64),
        progress_file=dict(type="path"),
    )
    module = AnsibleAWSModule(
        argument_spec=argument_spec,
        supports_check_mode=True,
        required_if=[("mode", "sync", ("destination",)), ("mode", "replication", ("destination", "replication"))],
    )
    counter = ApiCallCounter()
    execute(module, lambda m: ADAPTERS[m.params["mode"]](m, counter), counter)


if __name__ == "__main__":
    main()
