"""Reliability tooling that drives a running server: the hostile-input corpus, worker faults, and the soak
(`make reliability`). Everything reads models.yaml, so a model that joins the registry is covered at once."""
