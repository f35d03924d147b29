// Operator tooling lives here: lag, dead letters, histories, invariants and load.
