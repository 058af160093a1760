"""What the service tells its operators: JSON logs, the access-log audit, Prometheus metrics."""
