"""The verification engines: judge a full render (flows, monitoring, Secret readers) and the
validators' reports (Kubernetes schemas, checkov). Tests and `make validate` use them; the
program and its policy pack never import them (tests/unit/test_layout.py)."""
