"""The maths of the parts, pure functions of arrays: activations, costs, initialisers, dropout, second-order information; scalars and memory estimates."""
