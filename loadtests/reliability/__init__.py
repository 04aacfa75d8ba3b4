"""The reliability harness: drives a running server with the hostile-input corpus, worker and JVM faults,
overload and a soak (`make reliability`). Everything reads models.yaml, so a model that joins the registry is
covered at once. Test and benchmark tooling, never shipped in an archive or an image."""
