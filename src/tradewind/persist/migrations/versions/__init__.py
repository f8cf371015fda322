"""Migration revisions; one file per revision."""
