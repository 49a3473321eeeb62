"""Front end: which functions are candidates, AST -> typed IR, type inference."""
