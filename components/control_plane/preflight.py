"""AWS preflight for capi + aws: fail before a single resource is registered.

CAPA only notices a missing instance profile, key pair or AMI after the Cluster exists,
as machines stuck in Provisioning. `problems(...)` asks AWS up front and returns one line
per missing prerequisite, each saying what is missing and how to create it; `check(...)`
raises them all at once. Turn it off with `cluster.capi.aws.preflight: false` (previews
without AWS credentials).
"""

from __future__ import annotations

from typing import Any

import pulumi

from components.control_plane.settings import ClusterSettings
from kernel.config import problem_report

SUFFIX = ".cluster-api-provider-aws.sigs.k8s.io"
INSTANCE_PROFILES = tuple(f"{p}{SUFFIX}" for p in ("control-plane", "nodes", "controllers"))
IAM_FIX = (
    "create the CAPA IAM resources with `clusterawsadm bootstrap iam create-cloudformation-stack`"
)


class PreflightError(pulumi.RunError):
    """Every missing prerequisite, one line each; printed without a traceback."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(
            problem_report(
                "AWS preflight for Cluster API failed",
                problems,
                "set cluster.capi.aws.preflight: false only for previews without AWS credentials",
            )
        )


def _code(exc: Exception) -> str:
    return str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))


def problems(
    session: Any, *, region: str, zones: tuple[str, ...], ssh_key_name: str, ami_id: str
) -> list[str]:
    """Pure check: `session` is a boto3 Session (or anything with `.client(name, region_name=)`)."""
    from botocore.exceptions import ClientError

    ec2 = session.client("ec2", region_name=region)
    iam = session.client("iam", region_name=region)
    found: list[str] = []

    available = {
        z["ZoneName"]
        for z in ec2.describe_availability_zones(
            Filters=[{"Name": "state", "Values": ["available"]}]
        )["AvailabilityZones"]
    }
    if len(available) < 3:
        found.append(
            f"region {region} has {len(available)} available availability zone(s), 3 are "
            "needed: choose another region (cluster.capi.aws.region)"
        )
    missing_zones = [z for z in zones if z not in available]
    if missing_zones and len(available) >= 3:
        found.append(
            f"availability zone(s) {', '.join(missing_zones)} not available in {region}: set "
            f"cluster.capi.aws.availabilityZones to three of {', '.join(sorted(available))}"
        )

    for profile in INSTANCE_PROFILES:
        try:
            roles = iam.get_instance_profile(InstanceProfileName=profile)["InstanceProfile"][
                "Roles"
            ]
        except ClientError as exc:
            if _code(exc) != "NoSuchEntity":
                raise
            found.append(f"IAM instance profile {profile} does not exist: {IAM_FIX}")
            continue
        if not roles:
            found.append(
                f"IAM instance profile {profile} has no role: {IAM_FIX} "
                "(or `aws iam add-role-to-instance-profile`)"
            )

    if ssh_key_name:
        try:
            ec2.describe_key_pairs(KeyNames=[ssh_key_name])
        except ClientError as exc:
            if _code(exc) != "InvalidKeyPair.NotFound":
                raise
            found.append(
                f"EC2 key pair {ssh_key_name} does not exist in {region}: create it with "
                f"`aws ec2 create-key-pair --region {region} --key-name {ssh_key_name}` "
                "or import one (cluster.capi.aws.sshKeyName)"
            )

    try:
        ec2.describe_images(ImageIds=[ami_id])  # one id per call: AWS raises for unknown ids
    except ClientError as exc:
        if _code(exc) not in ("InvalidAMIID.NotFound", "InvalidAMIID.Malformed"):
            raise
        found.append(
            f"AMI {ami_id} does not exist in {region}: build one with image-builder "
            "(`make build-ami-ubuntu-2404`) or list CAPA's with `clusterawsadm ami list`, "
            "then set cluster.capi.aws.amiId"
        )
    return found


def _boto3_session(region: str) -> Any:
    import boto3

    return boto3.Session(region_name=region)


session_factory = _boto3_session
"""How `check` gets AWS access; tests swap in a fake account."""


def check(cluster: ClusterSettings, session: Any = None) -> None:
    """Called from __main__ right after settings load; a no-op unless capi + aws."""
    capi = cluster.capi
    if capi is None or capi.aws is None or not capi.aws.preflight:
        return
    aws = capi.aws
    if session is None:
        session = session_factory(aws.region)
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        found = problems(
            session,
            region=aws.region,
            zones=aws.availability_zones,
            ssh_key_name=aws.ssh_key_name,
            ami_id=aws.ami_id,
        )
    except (BotoCoreError, ClientError) as exc:
        found = [
            f"cannot query AWS in {aws.region} ({exc}): configure credentials "
            "(AWS_PROFILE or `aws sso login`) with read access to EC2 and IAM"
        ]
    if found:
        raise PreflightError(found)
