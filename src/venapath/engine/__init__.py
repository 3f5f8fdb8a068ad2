"""The pure decision engine: evaluate(kb, facts, now) -> Assessment. No I/O, no clock."""
