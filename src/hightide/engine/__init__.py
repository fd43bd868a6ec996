"""The engine: calendar, named random streams, the ordered monthly step, the run loop."""
