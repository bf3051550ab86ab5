"""The pure domain."""
