"""Running Landdesk unattended: periodic jobs, backups, readiness, metrics, logs."""
