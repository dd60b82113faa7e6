"""One epoch of training: the contract and the generic array-API path (generic), the population's (population), and the fast paths with their registry (fast/)."""
