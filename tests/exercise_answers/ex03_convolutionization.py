"""Correct answer to lesson 03's exercise, written with NumPy only (the grader's tests)."""


def convolutionize(weight, bias, input_shape):
    return weight.reshape((weight.shape[0],) + tuple(input_shape)).copy(), bias.copy()
