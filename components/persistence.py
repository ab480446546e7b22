"""PersistenceLayer: storage classes, volume snapshots, backups and etcd snapshots."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

TYPE_TOKEN = "k8splatform:persistence:PersistenceLayer"


@dataclass(frozen=True)
class PersistenceSettings:
    existing_storage_class: str | None
    """Use this class as it is (dev: kind's `standard`); None = the platform creates one."""


@dataclass(frozen=True)
class PersistenceLayerArgs:
    settings: PersistenceSettings
    provider: k8s.Provider


class PersistenceLayer(pulumi.ComponentResource):
    default_storage_class: pulumi.Output[str]

    def __init__(
        self, name: str, args: PersistenceLayerArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(TYPE_TOKEN, name, None, opts)
        s = args.settings
        if s.existing_storage_class is None:
            raise ValueError("creating storage classes is not implemented")
        self.default_storage_class = pulumi.Output.from_input(s.existing_storage_class)
        self.register_outputs({"default_storage_class": self.default_storage_class})
