"""HTTP and Prometheus."""
