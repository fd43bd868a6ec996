"""The State: policy timeline, the granary and unified supply; planning comes with issue 4."""
