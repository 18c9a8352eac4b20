"""The exercise file as a schema: which fields each kind takes, and what form each value has.

`schema_problems(spec)` checks a spec (the mapping loaded from an exercise file) against the
models and returns each problem as a SpecProblem with the path of the field it concerns, such as
("mistakes", 2, "feedback"), so the course loader can name the file's line. Whether the values
make sense (a reference that parses, a reference function that runs) is the semantic validators'
job, which run only on a spec that fits the schema.

    values     the forms a value may take (an expression, a positive number, a matrix size)
    models     the pydantic models of the four kinds; every model forbids undeclared keys
    problems   schema_problems: pydantic's errors as SpecProblems in an author's words
    publish    exercises/schema.json for editors (`python -m grader.engine.schema --write`)
"""

from __future__ import annotations

from grader.engine.schema.problems import schema_problems

__all__ = ["schema_problems"]
