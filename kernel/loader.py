"""What every settings section needs: the one error, secrets, and the loader that
applies profile defaults and prod safety minimums (waived only through acceptRisks)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi

from kernel.config import DNS_LABEL, MISSING, ByProfile, Context, Problem, Section, problem_report


class SettingsError(pulumi.RunError):
    """Raised with every problem at once. A RunError prints without a traceback."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__(problem_report("Invalid stack configuration", problems))


class Secret:
    """A credential from the `secrets` config key. Its repr never shows the value;
    components turn it into a Pulumi secret with `.output()`."""

    def __init__(self, key: str, value: str) -> None:
        self.key = key
        self._value = value

    def output(self) -> pulumi.Output[str]:
        return pulumi.Output.secret(self._value)

    def plaintext(self) -> str:
        """For plan-time checks that must call an API (the S3 preflight) or parse the
        value; never log, export or put it in resource inputs."""
        return self._value

    def __repr__(self) -> str:
        return f"Secret({self.key!r})"


class Loader:
    """Holds what every section needs: the profile, the risks the user accepted and
    the secrets, and records which guards exist so `acceptRisks` can be checked."""

    def __init__(self, ctx: Context, accept: tuple[str, ...], secrets: Mapping[str, Any]):
        self.ctx = ctx
        self.accept = set(accept)
        self.guards: set[str] = set()
        self.secrets = secrets
        self.secrets_used: set[str] = set()

    @property
    def prod(self) -> bool:
        return self.ctx.profile == "prod"

    def prod_minimum(self, section: Section, name: str, value: int | None, minimum: int) -> None:
        """prod may not go below `minimum` unless the key is listed in acceptRisks."""
        key = section.key(name)
        self.guards.add(key)
        if self.prod and value is not None and value < minimum and key not in self.accept:
            self.ctx.problem(
                key,
                value,
                f"prod needs at least {minimum}; to accept the risk, add '{key}' to acceptRisks",
            )

    def replicas(
        self,
        section: Section,
        name: str,
        default: ByProfile[int],
        *,
        doc: str,
        floor: int | None = None,
        maximum: int = 7,
    ) -> int:
        """A replica count: 1..maximum, and in prod at least `floor` (default: the prod
        default) unless the key is listed in acceptRisks."""
        value = section.integer(name, default, doc=doc, minimum=1, maximum=maximum)
        self.prod_minimum(section, name, value, default.prod if floor is None else floor)
        return int(value)

    def prod_requires(self, key: str, ok: bool, value: Any, what: str) -> None:
        """A prod safety property that only an explicit acceptRisks entry can waive."""
        self.guards.add(key)
        if self.prod and not ok and key not in self.accept:
            self.ctx.problem(
                key, value, f"prod requires {what}; to accept the risk, add '{key}' to acceptRisks"
            )

    def dev_requires(self, key: str, ok: bool, value: Any, what: str) -> None:
        """A dev-profile safety property (a dev stack must not touch a real cluster);
        only an explicit acceptRisks entry can waive it."""
        self.guards.add(key)
        if not self.prod and not ok and key not in self.accept:
            self.ctx.problem(
                key, value, f"dev requires {what}; to accept the risk, add '{key}' to acceptRisks"
            )

    def secret(self, section: Section, name: str, *, required: bool, doc: str) -> Secret | None:
        """A setting that names an entry of the `secrets` config key."""
        ref = section.string(name, None if not required else MISSING, doc=doc, check=DNS_LABEL)
        if ref is None:
            return None
        self.secrets_used.add(ref)
        value = self.secrets.get(ref)
        if not isinstance(value, str) or not value:
            self.ctx.problem(
                section.key(name),
                ref,
                f"no secret '{ref}'; set it with "
                f"`pulumi config set --secret --path 'secrets.{ref}' <value>`",
            )
            return None
        return Secret(ref, value)
