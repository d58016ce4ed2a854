"""Layer arithmetic: shapes computed before anything runs (shapes), per-layer tables of output shape, weights,
bias, parameters and MACs (tables), and the articles' arithmetic claims checked against those tables (claims)."""
from paddle_cnn.arithmetic.shapes import ShapeError, layer_output_shape, output_shape
from paddle_cnn.arithmetic.tables import (CONVENTION, LayerTable, count_params, layer_table, model_overview,
                                          model_table, parse_input)

__all__ = ["ShapeError", "layer_output_shape", "output_shape", "CONVENTION", "LayerTable", "count_params",
           "layer_table", "model_overview", "model_table", "parse_input"]
