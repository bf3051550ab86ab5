"""Kafka and Faust."""
