"""The shared kernel: what every component may use and none owns.

Config reader and settings loader, Kubernetes helpers and API client, kubeconfig
reading, the pinned chart catalogue, the platform namespaces, the typed contracts
between components, and the footprint report. It imports no component.
"""
