"""Seed the production-shaped world (DESIGN §1) through the AWS APIs, idempotently.

Every resource is looked up first and created only when missing, so a second run
creates nothing and reports the same world. Names are the production ones.

EKS: one cluster per region (`lomash-wood-eu-west-1`, `lomash-wood-eu-west-2`, named like the
kube contexts of tests/k8s) with a managed node group `lomash-wood-workers`: desired 3 in the
primary region, 1 (its resting size; min 1, max 6) in the standby. A re-seed puts a resized
node group back to its resting size. The Kubernetes side is seeded by tests/k8s/seed.py.

Choice (documented for the DNS work): the SECONDARY failover record has no health
check. That is Route 53's recommended active-passive shape: a secondary without a
health check is always considered healthy, so traffic always has somewhere to go.
The `/v1/auth/health` check (30 s, threshold 3) watches the primary region's ALB
alongside the API gateway check and is returned in the seed output for the DNS and
verification steps; only the API gateway check is attached to the PRIMARY record.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import random
import time
import urllib.error
import urllib.request
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

PRIMARY = "eu-west-1"
STANDBY = "eu-west-2"
SERVICES = ["auth", "products", "orders", "appointments", "content", "customers", "notifications", "analytics"]
PRIMARY_CLASS = "db.r6g.large"
REPLICA_CLASS = "db.t3.medium"
ENGINE_VERSION = "16.3"
SUBNET_GROUP = "lomash-wood-prod-db"
MEDIA_BUCKET = "lomash-wood-media-prod"
MEDIA_REPLICA_BUCKET = "lomash-wood-media-prod-replica"
CRR_ROLE = "lomash-wood-s3-crr"
ALB_NAMES = {PRIMARY: "lomash-wood-alb-euw1", STANDBY: "lomash-wood-alb-euw2"}
VPC_CIDRS = {PRIMARY: "10.10", STANDBY: "10.20"}
EKS_CLUSTERS = {PRIMARY: "lomash-wood-eu-west-1", STANDBY: "lomash-wood-eu-west-2"}
EKS_VERSION = "1.29"
EKS_CLUSTER_ROLE = "lomash-wood-eks-cluster"
EKS_NODE_ROLE = "lomash-wood-eks-nodes"
NODEGROUP = "lomash-wood-workers"
# The primary runs the platform (3 workers); the standby rests at one node and is scaled up on
# failover (eks_nodegroup_scale), never above maxSize.
NODEGROUP_SCALING = {PRIMARY: {"minSize": 1, "maxSize": 6, "desiredSize": 3},
                     STANDBY: {"minSize": 1, "maxSize": 6, "desiredSize": 1}}
ZONE = "lomashwood.com"
RECORD = "api.lomashwood.com"
BASE_TAGS = [{"Key": "Project", "Value": "lomash-wood"}, {"Key": "Environment", "Value": "prod"}]
MEDIA_OBJECTS = {
    "products/oak-dining-table.jpg": b"\xff\xd8\xff oak dining table",
    "products/walnut-chair.jpg": b"\xff\xd8\xff walnut chair",
    "products/ash-bookcase.jpg": b"\xff\xd8\xff ash bookcase",
    "content/home/hero.jpg": b"\xff\xd8\xff hero banner",
    "content/pages/about.md": b"# About Lomash Wood\nHandmade furniture.\n",
    "appointments/showroom-map.pdf": b"%PDF-1.4 showroom map",
}
REPLICATION_RULE_ID = "crr-to-eu-west-2"
REPLICATION_LATENCY_SECONDS = 12.0  # CloudWatch AWS/S3 ReplicationLatency (Maximum), published once
MEDIA_KMS_ALIAS = "alias/lomash-wood-media"  # one customer key per region
MIB = 1024 * 1024
PART_SIZES = (5 * MIB, 5 * MIB, 1 * MIB)  # S3's smallest parts but the last
# In both buckets: one multipart object (same parts, so the same "-3" ETag) and one SSE-KMS object
# (each bucket's own region key, so different ETags, as CRR replicas of KMS objects have).
MULTIPART_KEY = "media/video/showroom-tour.mp4"
KMS_OBJECT_KEY = "private/invoices/2026-11.pdf"
KMS_OBJECT_DATA = b"%PDF-1.7 Lomash Wood invoices, November 2026\n" * 8

# What happened while eu-west-1 was down and eu-west-2 took the traffic (Seeder.outage_writes).
# Primary bucket: written just before the outage, never replicated.
OUTAGE_PENDING = {
    "products/new-sofa.jpg": b"\xff\xd8\xff new sofa",
    "products/new-lamp.jpg": b"\xff\xd8\xff new lamp",
}
OUTAGE_FAILED = {"products/new-rug.jpg": b"\xff\xd8\xff new rug"}
# Replica bucket: the writes made in eu-west-2 during the outage.
OUTAGE_UPLOADS = {
    "uploads/reviews/r-20261103-oak-table.jpg": b"\xff\xd8\xff review photo oak table",
    "uploads/customer-photos/c-1042.jpg": b"\xff\xd8\xff customer 1042 living room",
    "uploads/returns/rma-5531.pdf": b"%PDF-1.4 return RMA-5531",
}
OUTAGE_SAME_SIZE_KEY = "products/walnut-chair.jpg"
OUTAGE_SAME_SIZE_DATA = b"\xff\xd8\xff walnut CHAIR"  # same length as the steady bytes, other bytes
OUTAGE_RESIZED_KEY = "content/pages/about.md"
OUTAGE_RESIZED_DATA = b"# About Lomash Wood\nHandmade furniture. Showrooms in Leeds and London.\n"
OUTAGE_DELETED_KEY = "appointments/showroom-map.pdf"
OUTAGE_MULTIPART_KEY = "media/video/outage-tour.mp4"
OUTAGE_TAGGED_KEY = "products/winter/sofa-lifestyle.webp"
OUTAGE_TAGGED_DATA = b"RIFF\x24\x00\x00\x00WEBPVP8 winter sofa lifestyle"
OUTAGE_CONTENT_TYPE = "image/webp"
OUTAGE_METADATA = {"photographer": "lomash", "sku": "LW-1234"}
OUTAGE_CACHE_CONTROL = "public, max-age=86400"
OUTAGE_TAGS = {"collection": "winter", "retention": "long"}
OUTAGE_KMS_KEY = "private/invoices/2026-12.pdf"
OUTAGE_KMS_DATA = b"%PDF-1.7 Lomash Wood invoices, December 2026\n" * 8
_MISSING = ("404", "NoSuchKey", "NotFound")


def primary_id(svc: str) -> str:
    return f"lomash-{svc}-prod"


def replica_id(svc: str) -> str:
    return f"lomash-{svc}-prod-replica"


# Clients by (endpoint, service, region), kept across seeds: every test seeds a fresh world, and
# making the ~20 clients again (service models, endpoint rules) cost ~0.5 s a seed.
_CLIENTS: dict[tuple[str, str, str], Any] = {}
_SESSION: list[Any] = []


class Seeder:
    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.created: list[str] = []
        if not _SESSION:
            _SESSION.append(boto3.session.Session())  # one session: service models load once
        self._session = _SESSION[0]
        self._media: dict[str, Any] | None = None
        self._new_second_first = False  # see before_write

    def client(self, service: str, region: str = PRIMARY) -> Any:
        key = (self.endpoint, service, region)
        if key not in _CLIENTS:
            _CLIENTS[key] = self._session.client(
                service,
                region_name=region,
                endpoint_url=self.endpoint,
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
                config=Config(retries={"mode": "standard", "max_attempts": 3}),
            )
        return _CLIENTS[key]

    # --- network ---

    def vpc(self, region: str) -> dict[str, Any]:
        ec2 = self.client("ec2", region)
        name = f"lomash-wood-prod-{region}"
        found = ec2.describe_vpcs(Filters=[{"Name": "tag:Name", "Values": [name]}])["Vpcs"]
        if found:
            vpc_id = found[0]["VpcId"]
        else:
            vpc_id = ec2.create_vpc(
                CidrBlock=f"{VPC_CIDRS[region]}.0.0/16",
                TagSpecifications=[{"ResourceType": "vpc", "Tags": [{"Key": "Name", "Value": name}, *BASE_TAGS]}],
            )["Vpc"]["VpcId"]
            self.created.append(f"vpc:{region}:{name}")
        subnets = []
        for i, az in enumerate(("a", "b")):
            sname = f"{name}-private-{az}"
            found = ec2.describe_subnets(Filters=[{"Name": "tag:Name", "Values": [sname]}])["Subnets"]
            if found:
                subnets.append(found[0]["SubnetId"])
                continue
            subnets.append(
                ec2.create_subnet(
                    VpcId=vpc_id,
                    CidrBlock=f"{VPC_CIDRS[region]}.{i}.0/24",
                    AvailabilityZone=f"{region}{az}",
                    TagSpecifications=[{"ResourceType": "subnet", "Tags": [{"Key": "Name", "Value": sname}, *BASE_TAGS]}],
                )["Subnet"]["SubnetId"]
            )
            self.created.append(f"subnet:{region}:{sname}")
        return {"vpc_id": vpc_id, "subnet_ids": subnets}

    # --- RDS ---

    def subnet_group(self, region: str, subnet_ids: list[str]) -> str:
        rds = self.client("rds", region)
        try:
            rds.describe_db_subnet_groups(DBSubnetGroupName=SUBNET_GROUP)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "DBSubnetGroupNotFoundFault":
                raise
            rds.create_db_subnet_group(
                DBSubnetGroupName=SUBNET_GROUP,
                DBSubnetGroupDescription="Lomash Wood production databases",
                SubnetIds=subnet_ids,
                Tags=BASE_TAGS,
            )
            self.created.append(f"db-subnet-group:{region}:{SUBNET_GROUP}")
        return SUBNET_GROUP

    def _describe(self, region: str, db_id: str) -> dict[str, Any] | None:
        try:
            return self.client("rds", region).describe_db_instances(DBInstanceIdentifier=db_id)["DBInstances"][0]
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "DBInstanceNotFound":
                return None
            raise

    def primary(self, svc: str) -> dict[str, Any]:
        db_id = primary_id(svc)
        db = self._describe(PRIMARY, db_id)
        if db is None:
            db = self.client("rds", PRIMARY).create_db_instance(
                DBInstanceIdentifier=db_id,
                DBInstanceClass=PRIMARY_CLASS,
                Engine="postgres",
                EngineVersion=ENGINE_VERSION,
                DBName=svc,
                MasterUsername="lomash_admin",
                ManageMasterUserPassword=True,  # no password in the seed or its output
                AllocatedStorage=100,
                StorageType="gp3",
                StorageEncrypted=True,
                MultiAZ=True,
                BackupRetentionPeriod=7,  # read replicas need backups on the source
                DBSubnetGroupName=SUBNET_GROUP,
                Tags=[*BASE_TAGS, {"Key": "Service", "Value": svc}, {"Key": "Role", "Value": "primary"}],
            )["DBInstance"]
            self.created.append(f"db:{PRIMARY}:{db_id}")
        return db

    def replica(self, svc: str, source_arn: str) -> dict[str, Any]:
        db_id = replica_id(svc)
        db = self._describe(STANDBY, db_id)
        if db is None:
            db = self.client("rds", STANDBY).create_db_instance_read_replica(
                DBInstanceIdentifier=db_id,
                SourceDBInstanceIdentifier=source_arn,
                SourceRegion=PRIMARY,
                DBInstanceClass=REPLICA_CLASS,
                DBSubnetGroupName=SUBNET_GROUP,
                MultiAZ=False,  # RDS's default for a read replica (moto would copy the source's)
                Tags=[*BASE_TAGS, {"Key": "Service", "Value": svc}, {"Key": "Role", "Value": "replica"}],
            )["DBInstance"]
            self.created.append(f"db:{STANDBY}:{db_id}")
        return db

    # --- CloudWatch ReplicaLag ---

    def lags(self, seconds: float) -> dict[str, float]:
        replicas = {replica_id(svc): float(seconds) for svc in SERVICES}
        if not world_control_post(self.endpoint, "/_world/lag", {"region": STANDBY, "replicas": replicas}):
            # Not our world (e.g. LocalStack): publish one datapoint each, through the API.
            cw = self.client("cloudwatch", STANDBY)
            cw.put_metric_data(
                Namespace="AWS/RDS",
                MetricData=[
                    {
                        "MetricName": "ReplicaLag",
                        "Dimensions": [{"Name": "DBInstanceIdentifier", "Value": name}],
                        "Value": value,
                        "Unit": "Seconds",
                    }
                    for name, value in replicas.items()
                ],
            )
        return replicas

    # --- S3 ---

    def bucket(self, name: str, region: str) -> None:
        s3 = self.client("s3", region)
        try:
            s3.head_bucket(Bucket=name)
        except ClientError as exc:
            if exc.response["Error"]["Code"] not in ("404", "NoSuchBucket", "NotFound"):
                raise
            s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": region})
            s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": BASE_TAGS})
            self.created.append(f"bucket:{region}:{name}")
        if s3.get_bucket_versioning(Bucket=name).get("Status") != "Enabled":
            s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})

    # --- IAM roles (S3 replication, EKS) ---

    def crr_role(self) -> str:
        return self.service_role(CRR_ROLE, "s3.amazonaws.com")

    def service_role(self, name: str, principal: str) -> str:
        # moto does not load AWS-managed policies, so the roles carry only their trust policy.
        iam = self.client("iam", PRIMARY)
        try:
            return iam.get_role(RoleName=name)["Role"]["Arn"]
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "NoSuchEntity":
                raise
        trust = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": principal}, "Action": "sts:AssumeRole"}],
        }
        arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust), Tags=BASE_TAGS)["Role"]["Arn"]
        self.created.append(f"iam-role:{name}")
        return arn

    def eks(self, region: str, subnet_ids: list[str], cluster_role: str, node_role: str) -> dict[str, Any]:
        """The region's EKS cluster and its managed node group, at the resting size."""
        eks = self.client("eks", region)
        name = EKS_CLUSTERS[region]
        tags = {t["Key"]: t["Value"] for t in BASE_TAGS}
        try:
            cluster = eks.describe_cluster(name=name)["cluster"]
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ResourceNotFoundException":
                raise
            cluster = eks.create_cluster(
                name=name, version=EKS_VERSION, roleArn=cluster_role,
                resourcesVpcConfig={"subnetIds": subnet_ids, "endpointPublicAccess": True, "endpointPrivateAccess": True},
                tags=tags,
            )["cluster"]
            self.created.append(f"eks-cluster:{region}:{name}")
        scaling = NODEGROUP_SCALING[region]
        try:
            group = eks.describe_nodegroup(clusterName=name, nodegroupName=NODEGROUP)["nodegroup"]
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ResourceNotFoundException":
                raise
            group = eks.create_nodegroup(
                clusterName=name, nodegroupName=NODEGROUP, scalingConfig=scaling, subnets=subnet_ids,
                nodeRole=node_role, instanceTypes=["m6i.large"], capacityType="ON_DEMAND",
                labels={"lomash-wood/pool": "workers"}, tags=tags,
            )["nodegroup"]
            self.created.append(f"eks-nodegroup:{region}:{name}/{NODEGROUP}")
        if group["scalingConfig"] != scaling:  # back to the resting size
            eks.update_nodegroup_config(clusterName=name, nodegroupName=NODEGROUP, scalingConfig=scaling)
            group = eks.describe_nodegroup(clusterName=name, nodegroupName=NODEGROUP)["nodegroup"]
            self.created.append(f"eks-nodegroup-scaling:{region}:{name}/{NODEGROUP}")
        return {
            "name": name,
            "arn": cluster["arn"],
            "version": cluster.get("version"),
            "context": name,  # the kube context name in the kubeconfig (tests/k8s)
            "nodegroup": {
                "name": NODEGROUP,
                "arn": group["nodegroupArn"],
                "scaling": {k: group["scalingConfig"][k] for k in ("minSize", "maxSize", "desiredSize")},
            },
        }

    def media(self) -> dict[str, Any]:
        self.bucket(MEDIA_BUCKET, PRIMARY)
        self.bucket(MEDIA_REPLICA_BUCKET, STANDBY)
        role_arn = self.crr_role()
        rule = {
            "ID": REPLICATION_RULE_ID,
            "Priority": 1,
            "Status": "Enabled",
            "Filter": {"Prefix": ""},
            "DeleteMarkerReplication": {"Status": "Enabled"},
            "Destination": {"Bucket": f"arn:aws:s3:::{MEDIA_REPLICA_BUCKET}", "StorageClass": "STANDARD"},
        }
        s3 = self.client("s3", PRIMARY)
        try:
            current = s3.get_bucket_replication(Bucket=MEDIA_BUCKET)["ReplicationConfiguration"]
        except ClientError:
            current = None
        if not current or current.get("Role") != role_arn or current.get("Rules", [{}])[0].get("ID") != rule["ID"]:
            s3.put_bucket_replication(Bucket=MEDIA_BUCKET, ReplicationConfiguration={"Role": role_arn, "Rules": [rule]})
            self.created.append(f"bucket-replication:{MEDIA_BUCKET}")
        kms_keys = {region: self.kms_key(region) for region in (PRIMARY, STANDBY)}
        # The steady state CRR would have produced: every object in both buckets
        # (moto's CRR copies nothing, so the seed writes the replica side itself). Once the outage
        # writes are there, the keys they changed or deleted in the replica bucket are left alone.
        outage_keys = {OUTAGE_SAME_SIZE_KEY, OUTAGE_RESIZED_KEY, OUTAGE_DELETED_KEY}
        outage_happened = self._exists(STANDBY, MEDIA_REPLICA_BUCKET, next(iter(OUTAGE_UPLOADS)))
        statuses: dict[str, dict[str, str]] = {}
        for bucket, region, status in ((MEDIA_BUCKET, PRIMARY, "COMPLETED"), (MEDIA_REPLICA_BUCKET, STANDBY, "REPLICA")):
            skip = outage_keys if outage_happened and bucket == MEDIA_REPLICA_BUCKET else set()
            for key, data in MEDIA_OBJECTS.items():
                if key not in skip:
                    self.put(region, bucket, key, data)
            self.put_multipart(region, bucket, MULTIPART_KEY)
            self.put(region, bucket, KMS_OBJECT_KEY, KMS_OBJECT_DATA,
                     ServerSideEncryption="aws:kms", SSEKMSKeyId=kms_keys[region])
            statuses[bucket] = {key: status for key in self.steady_keys() if key not in skip}
        for bucket, objects in statuses.items():
            # Not our world (LocalStack): no way to set them, and nothing to do.
            world_control_post(self.endpoint, "/_world/s3/replication", {"bucket": bucket, "objects": objects})
        self.replication_latency()
        self._media = {
            "primary_bucket": MEDIA_BUCKET,
            "primary_region": PRIMARY,
            "replica_bucket": MEDIA_REPLICA_BUCKET,
            "replica_region": STANDBY,
            "replication_role_arn": role_arn,
            "replication_rule_id": rule["ID"],
            "objects": self.steady_keys(),
            "kms_keys": kms_keys,
            "kms_alias": MEDIA_KMS_ALIAS,
            "multipart_key": MULTIPART_KEY,
            "kms_object_key": KMS_OBJECT_KEY,
            "replication_latency": {"region": PRIMARY, "namespace": "AWS/S3", "metric": "ReplicationLatency",
                                    "seconds": REPLICATION_LATENCY_SECONDS},
        }
        return self._media

    @staticmethod
    def steady_keys() -> list[str]:
        return sorted([*MEDIA_OBJECTS, MULTIPART_KEY, KMS_OBJECT_KEY])

    def kms_key(self, region: str) -> str:
        """ARN of the region's media key, found by its alias (created once)."""
        kms = self.client("kms", region)
        try:
            return kms.describe_key(KeyId=MEDIA_KMS_ALIAS)["KeyMetadata"]["Arn"]
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "NotFoundException":
                raise
        arn = kms.create_key(Description=f"Lomash Wood media objects ({region})",
                             Tags=[{"TagKey": t["Key"], "TagValue": t["Value"]} for t in BASE_TAGS])["KeyMetadata"]["Arn"]
        kms.create_alias(AliasName=MEDIA_KMS_ALIAS, TargetKeyId=arn)
        self.created.append(f"kms-key:{region}:{MEDIA_KMS_ALIAS}")
        return arn

    def _exists(self, region: str, bucket: str, key: str) -> bool:
        try:
            self.client("s3", region).head_object(Bucket=bucket, Key=key)
            return True
        except ClientError as exc:
            if exc.response["Error"]["Code"] not in _MISSING:
                raise
            return False

    def _holds(self, region: str, bucket: str, key: str, data: bytes, extra: dict[str, Any]) -> bool:
        """The key's current version has these bytes (and KMS key, content type, metadata)."""
        s3 = self.client("s3", region)
        if "SSEKMSKeyId" not in extra:  # a plain object's ETag is its MD5: no need to read it
            try:
                head = s3.head_object(Bucket=bucket, Key=key)
            except ClientError as exc:
                if exc.response["Error"]["Code"] not in _MISSING:
                    raise
                return False
            same = head["ETag"] == '"' + hashlib.md5(data).hexdigest() + '"'  # noqa: S324 - S3's ETag
            got = head
        else:
            try:
                got = s3.get_object(Bucket=bucket, Key=key)
            except ClientError as exc:
                if exc.response["Error"]["Code"] not in _MISSING:
                    raise
                return False
            same = got["Body"].read() == data and got.get("SSEKMSKeyId") == extra["SSEKMSKeyId"]
        for field in ("ContentType", "CacheControl", "Metadata"):
            if field in extra and got.get(field) != extra[field]:
                return False
        return same

    def put(self, region: str, bucket: str, key: str, data: bytes, **extra: Any) -> bool:
        """PutObject unless the current version holds it already (a re-run makes no new version)."""
        if self._holds(region, bucket, key, data, extra):
            return False
        self.before_write()
        self.client("s3", region).put_object(Bucket=bucket, Key=key, Body=data, **extra)
        self.created.append(f"object:{bucket}/{key}")
        return True

    def put_multipart(self, region: str, bucket: str, key: str) -> bool:
        """A 3-part upload (5, 5, 1 MiB; bytes derived from the key): the same "-3" ETag wherever it is."""
        parts = [random.Random(f"{key}/part{n}").randbytes(size) for n, size in enumerate(PART_SIZES, 1)]
        md5s = b"".join(hashlib.md5(part).digest() for part in parts)  # noqa: S324 - S3's ETag
        etag = f'"{hashlib.md5(md5s).hexdigest()}-{len(parts)}"'  # noqa: S324
        s3 = self.client("s3", region)
        try:
            if s3.head_object(Bucket=bucket, Key=key)["ETag"] == etag:
                return False
        except ClientError as exc:
            if exc.response["Error"]["Code"] not in _MISSING:
                raise
        self.before_write()
        upload = s3.create_multipart_upload(Bucket=bucket, Key=key, ContentType="video/mp4")["UploadId"]
        done = [{"PartNumber": n, "ETag": s3.upload_part(Bucket=bucket, Key=key, UploadId=upload, PartNumber=n,
                                                          Body=part)["ETag"]}
                for n, part in enumerate(parts, 1)]
        s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload, MultipartUpload={"Parts": done})
        self.created.append(f"object:{bucket}/{key}")
        return True

    def before_write(self) -> None:
        """In outage_writes, wait for the next whole second before the first write, so every earlier
        object's LastModified (whole seconds in S3) is older than written_after."""
        if self._new_second_first:
            self._new_second_first = False
            time.sleep(1.0 - (time.time() % 1.0) + 0.01)

    def replication_latency(self) -> None:
        """CloudWatch AWS/S3 ReplicationLatency of the CRR rule, published once."""
        cw = self.client("cloudwatch", PRIMARY)
        dims = [{"Name": "SourceBucket", "Value": MEDIA_BUCKET},
                {"Name": "DestinationBucket", "Value": MEDIA_REPLICA_BUCKET},
                {"Name": "RuleId", "Value": REPLICATION_RULE_ID}]
        if cw.list_metrics(Namespace="AWS/S3", MetricName="ReplicationLatency", Dimensions=dims)["Metrics"]:
            return
        cw.put_metric_data(Namespace="AWS/S3", MetricData=[{
            "MetricName": "ReplicationLatency", "Dimensions": dims,
            "Value": REPLICATION_LATENCY_SECONDS, "Unit": "Seconds"}])
        self.created.append(f"metric:{PRIMARY}:AWS/S3/ReplicationLatency/{REPLICATION_RULE_ID}")

    # --- the eu-west-1 outage ---

    def outage_writes(self) -> dict[str, Any]:
        """What happened while eu-west-1 was down and eu-west-2 took the traffic (idempotent).

        Run it before marking eu-west-1 down (it writes the primary bucket's last objects). Returns
        the manifest of what a correct replica -> primary sync must do (README.md).
        """
        media = self._media or self.media()
        kms_arn = media["kms_keys"][STANDBY]
        self._new_second_first = True
        try:
            for key, data in {**OUTAGE_PENDING, **OUTAGE_FAILED}.items():
                self.put(PRIMARY, MEDIA_BUCKET, key, data)
            statuses = {**{k: "PENDING" for k in OUTAGE_PENDING}, **{k: "FAILED" for k in OUTAGE_FAILED}}
            world_control_post(self.endpoint, "/_world/s3/replication", {"bucket": MEDIA_BUCKET, "objects": statuses})
            for key, data in OUTAGE_UPLOADS.items():
                self.put(STANDBY, MEDIA_REPLICA_BUCKET, key, data)
            self.put(STANDBY, MEDIA_REPLICA_BUCKET, OUTAGE_SAME_SIZE_KEY, OUTAGE_SAME_SIZE_DATA)
            self.put(STANDBY, MEDIA_REPLICA_BUCKET, OUTAGE_RESIZED_KEY, OUTAGE_RESIZED_DATA)
            self.put_multipart(STANDBY, MEDIA_REPLICA_BUCKET, OUTAGE_MULTIPART_KEY)
            tagging = "&".join(f"{k}={v}" for k, v in sorted(OUTAGE_TAGS.items()))
            self.put(STANDBY, MEDIA_REPLICA_BUCKET, OUTAGE_TAGGED_KEY, OUTAGE_TAGGED_DATA, ContentType=OUTAGE_CONTENT_TYPE,
                     Metadata=OUTAGE_METADATA, CacheControl=OUTAGE_CACHE_CONTROL, Tagging=tagging)
            s3 = self.client("s3", STANDBY)
            tags = {t["Key"]: t["Value"] for t in s3.get_object_tagging(Bucket=MEDIA_REPLICA_BUCKET,
                                                                        Key=OUTAGE_TAGGED_KEY)["TagSet"]}
            if tags != OUTAGE_TAGS:
                s3.put_object_tagging(Bucket=MEDIA_REPLICA_BUCKET, Key=OUTAGE_TAGGED_KEY, Tagging={
                    "TagSet": [{"Key": k, "Value": v} for k, v in sorted(OUTAGE_TAGS.items())]})
            self.put(STANDBY, MEDIA_REPLICA_BUCKET, OUTAGE_KMS_KEY, OUTAGE_KMS_DATA,
                     ServerSideEncryption="aws:kms", SSEKMSKeyId=kms_arn)
            if self._exists(STANDBY, MEDIA_REPLICA_BUCKET, OUTAGE_DELETED_KEY):
                self.before_write()
                s3.delete_object(Bucket=MEDIA_REPLICA_BUCKET, Key=OUTAGE_DELETED_KEY)  # versioned: a delete marker
                self.created.append(f"delete-marker:{MEDIA_REPLICA_BUCKET}/{OUTAGE_DELETED_KEY}")
        finally:
            self._new_second_first = False
        copy = sorted([*OUTAGE_UPLOADS, OUTAGE_SAME_SIZE_KEY, OUTAGE_RESIZED_KEY, OUTAGE_MULTIPART_KEY,
                       OUTAGE_TAGGED_KEY, OUTAGE_KMS_KEY])
        touched = {OUTAGE_SAME_SIZE_KEY, OUTAGE_RESIZED_KEY, OUTAGE_DELETED_KEY}
        return {
            "source_bucket": MEDIA_REPLICA_BUCKET,
            "source_region": STANDBY,
            "destination_bucket": MEDIA_BUCKET,
            "destination_region": PRIMARY,
            "written_after": self._written_after(copy),
            "copy": copy,
            "delete": [OUTAGE_DELETED_KEY],
            "unchanged": sorted([k for k in MEDIA_OBJECTS if k not in touched] + [MULTIPART_KEY, KMS_OBJECT_KEY]),
            "pending": sorted(OUTAGE_PENDING),
            "failed": sorted(OUTAGE_FAILED),
            "tagged_key": OUTAGE_TAGGED_KEY,
            "tags": dict(OUTAGE_TAGS),
            "metadata": dict(OUTAGE_METADATA),
            "content_type": OUTAGE_CONTENT_TYPE,
            "cache_control": OUTAGE_CACHE_CONTROL,
            "kms_key": OUTAGE_KMS_KEY,
            "kms_key_arn": kms_arn,
            "multipart_key": OUTAGE_MULTIPART_KEY,
            "same_size_changed_key": OUTAGE_SAME_SIZE_KEY,
            "resized_changed_key": OUTAGE_RESIZED_KEY,
        }

    def _written_after(self, replica_keys: list[str]) -> str:
        """The whole second the outage writes began: the earliest LastModified among them (the
        seed waits for a new second before the first, so the steady objects are all older)."""
        times = [self.client("s3", PRIMARY).head_object(Bucket=MEDIA_BUCKET, Key=k)["LastModified"]
                 for k in [*OUTAGE_PENDING, *OUTAGE_FAILED]]
        s3 = self.client("s3", STANDBY)
        times += [s3.head_object(Bucket=MEDIA_REPLICA_BUCKET, Key=k)["LastModified"] for k in replica_keys]
        markers = s3.list_object_versions(Bucket=MEDIA_REPLICA_BUCKET, Prefix=OUTAGE_DELETED_KEY).get("DeleteMarkers", [])
        times += [m["LastModified"] for m in markers if m["Key"] == OUTAGE_DELETED_KEY and m["IsLatest"]]
        first = min(times).astimezone(dt.timezone.utc).replace(microsecond=0)
        return first.strftime("%Y-%m-%dT%H:%M:%SZ")

    # --- ELBv2 ---

    def alb(self, region: str, subnet_ids: list[str]) -> dict[str, Any]:
        elb = self.client("elbv2", region)
        name = ALB_NAMES[region]
        try:
            lb = elb.describe_load_balancers(Names=[name])["LoadBalancers"][0]
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "LoadBalancerNotFound":
                raise
            lb = elb.create_load_balancer(
                Name=name, Subnets=subnet_ids, Scheme="internet-facing", Type="application",
                IpAddressType="ipv4", Tags=BASE_TAGS,
            )["LoadBalancers"][0]
            self.created.append(f"alb:{region}:{name}")
        return {
            "name": name,
            "arn": lb["LoadBalancerArn"],
            "dns_name": lb["DNSName"],
            "canonical_hosted_zone_id": lb["CanonicalHostedZoneId"],
            "vpc_id": lb.get("VpcId"),
        }

    # --- Route 53 ---

    def zone(self) -> str:
        r53 = self.client("route53")
        for zone in r53.list_hosted_zones_by_name(DNSName=ZONE)["HostedZones"]:
            if zone["Name"] == ZONE + "." and not zone.get("Config", {}).get("PrivateZone"):
                return zone["Id"].split("/")[-1]
        zone = r53.create_hosted_zone(
            Name=ZONE, CallerReference=f"lomash-wood-seed-{ZONE}",
            HostedZoneConfig={"Comment": "Lomash Wood public zone", "PrivateZone": False},
        )["HostedZone"]
        self.created.append(f"hosted-zone:{ZONE}")
        return zone["Id"].split("/")[-1]

    def health_check(self, caller_reference: str, fqdn: str, path: str, interval: int) -> str:
        r53 = self.client("route53")
        for page in r53.get_paginator("list_health_checks").paginate():
            for hc in page["HealthChecks"]:
                if hc["CallerReference"] == caller_reference:
                    return hc["Id"]
        hc_id = r53.create_health_check(
            CallerReference=caller_reference,
            HealthCheckConfig={
                "Type": "HTTPS", "FullyQualifiedDomainName": fqdn, "Port": 443, "ResourcePath": path,
                "RequestInterval": interval, "FailureThreshold": 3, "EnableSNI": True,
            },
        )["HealthCheck"]["Id"]
        r53.change_tags_for_resource(
            ResourceType="healthcheck", ResourceId=hc_id,
            AddTags=[{"Key": "Name", "Value": caller_reference}, *BASE_TAGS],
        )
        self.created.append(f"health-check:{caller_reference}")
        return hc_id

    def dns(self, albs: dict[str, dict[str, Any]]) -> dict[str, Any]:
        zone_id = self.zone()
        primary_dns = albs[PRIMARY]["dns_name"]
        checks = {
            "api_gateway": self.health_check("lomash-wood-api-gateway-eu-west-1", primary_dns, "/health", 10),
            "auth": self.health_check("lomash-wood-auth-eu-west-1", primary_dns, "/v1/auth/health", 30),
        }
        records = {
            "PRIMARY": {"Name": RECORD + ".", "Type": "CNAME", "SetIdentifier": PRIMARY, "Failover": "PRIMARY",
                        "TTL": 60, "ResourceRecords": [{"Value": primary_dns}], "HealthCheckId": checks["api_gateway"]},
            "SECONDARY": {"Name": RECORD + ".", "Type": "CNAME", "SetIdentifier": STANDBY, "Failover": "SECONDARY",
                          "TTL": 60, "ResourceRecords": [{"Value": albs[STANDBY]["dns_name"]}]},
        }
        r53 = self.client("route53")
        existing = r53.list_resource_record_sets(HostedZoneId=zone_id, StartRecordName=RECORD, StartRecordType="CNAME")
        present = [r for r in existing["ResourceRecordSets"] if r["Name"] == RECORD + "."]
        wanted = list(records.values())
        if sorted(present, key=lambda r: r.get("SetIdentifier", "")) != sorted(wanted, key=lambda r: r["SetIdentifier"]):
            r53.change_resource_record_sets(
                HostedZoneId=zone_id,
                ChangeBatch={"Comment": "lomash-wood seed", "Changes": [{"Action": "UPSERT", "ResourceRecordSet": r} for r in wanted]},
            )
            self.created.append(f"record-sets:{RECORD}")
        return {"zone_id": zone_id, "zone_name": ZONE, "record_name": RECORD, "ttl": 60,
                "health_checks": checks, "records": records}

    # --- all ---

    def run(self, lag_seconds: float = 5) -> dict[str, Any]:
        network = {region: self.vpc(region) for region in (PRIMARY, STANDBY)}
        groups = {region: self.subnet_group(region, network[region]["subnet_ids"]) for region in (PRIMARY, STANDBY)}
        primaries, replicas = {}, {}
        for svc in SERVICES:
            db = self.primary(svc)
            primaries[svc] = _db_summary(db, PRIMARY)
        for svc in SERVICES:
            db = self.replica(svc, primaries[svc]["arn"])
            replicas[svc] = _db_summary(db, STANDBY)
        lags = self.lags(lag_seconds)
        media = self.media()
        albs = {region: self.alb(region, network[region]["subnet_ids"]) for region in (PRIMARY, STANDBY)}
        dns = self.dns(albs)
        cluster_role = self.service_role(EKS_CLUSTER_ROLE, "eks.amazonaws.com")
        node_role = self.service_role(EKS_NODE_ROLE, "ec2.amazonaws.com")
        eks = {region: self.eks(region, network[region]["subnet_ids"], cluster_role, node_role)
               for region in (PRIMARY, STANDBY)}
        return {
            "endpoint": self.endpoint,
            "primary_region": PRIMARY,
            "standby_region": STANDBY,
            "network": network,
            "rds": {"subnet_groups": groups, "primaries": primaries, "replicas": replicas},
            "cloudwatch": {"region": STANDBY, "namespace": "AWS/RDS", "metric": "ReplicaLag", "lag_seconds": lags},
            "s3": media,
            "elbv2": albs,
            "route53": dns,
            "eks": eks,
            "created": self.created,
        }


def _db_summary(db: dict[str, Any], region: str) -> dict[str, Any]:
    return {
        "identifier": db["DBInstanceIdentifier"],
        "arn": db["DBInstanceArn"],
        "region": region,
        "class": db["DBInstanceClass"],
        "engine": db["Engine"],
        "status": db["DBInstanceStatus"],
        "endpoint": db.get("Endpoint", {}).get("Address"),
        "port": db.get("Endpoint", {}).get("Port"),
        "source": db.get("ReadReplicaSourceDBInstanceIdentifier"),
    }


def world_control_post(endpoint: str, path: str, payload: Any) -> Any:
    """POST to the world's control API; None if the endpoint has no control API."""
    req = urllib.request.Request(
        endpoint.rstrip("/") + path, data=json.dumps(payload).encode(), method="POST",
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return None
        raise


def seed(endpoint: str, lag_seconds: float = 5, outage_writes: bool = False) -> dict[str, Any]:
    """Create (or find) the production-shaped world at ``endpoint``; return what is there.

    outage_writes: then also Seeder.outage_writes(); its manifest is the result's "outage_writes".
    """
    seeder = Seeder(endpoint)
    result = seeder.run(lag_seconds)
    if outage_writes:
        result["outage_writes"] = seeder.outage_writes()
    return result
