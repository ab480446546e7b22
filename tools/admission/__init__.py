"""Offline admission for what no engine here can judge: Kyverno ClusterPolicy patterns
(kyverno, pattern), as Kyverno's webhooks would, since the Kyverno CLI is not among the
engines. core.Evaluator runs them over a set of objects (CREATE). Everything the API server
judges itself (Pod Security, ValidatingAdmissionPolicies, CRD schemas) goes to a real one
(tests/apiserver).
"""
