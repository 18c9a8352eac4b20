"""The symbolic grader: expression, matrix and derivation exercises.

Called through grader.engine (grade / preview / variant / validate_spec); the modules, from the
bottom up:

    syntax, limits, vocabulary, tokenizer, parser, printing   read typed maths (no SymPy, no NumPy)
    variants, problem                                         an exercise's fields for one seed
    shapes, lines, preview                                    the live preview and variants (light)
    expressions, equivalence, diagnosis, scalar_check         scalar answers, with SymPy and mpmath
    matrices, derivation, verdicts                            matrix answers (NumPy), derivations
    dispatch                                                  grading in a forked child; warm_up
    validation, reference_check                               checks of the exercise file itself

This package's own import loads nothing: the web process imports only the light modules.
"""
