"""Serving side of the example pipelines: small apps that live outside the DAGs (as the seeds describe)."""
