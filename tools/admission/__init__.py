"""Offline admission: would the platform's own admission rules admit these objects?

ValidatingAdmissionPolicy (+bindings) and Kyverno ValidatingPolicy on a real CEL engine
(celenv, celpolicy), Kyverno ClusterPolicy patterns (kyverno, pattern), Pod Security
Admission (pss); core.Evaluator runs them all over a set of objects (CREATE).
"""
