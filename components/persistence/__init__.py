"""PersistenceLayer: storage classes, volume snapshots, backups and etcd snapshots."""

from components.persistence.component import PersistenceLayer, PersistenceLayerArgs

__all__ = ["PersistenceLayer", "PersistenceLayerArgs"]
