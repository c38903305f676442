"""The language front end: text → syntax tree → checked semantic model.

``parse`` (the only module that imports lark), ``syntax`` (the tree), ``unparse`` (the
canonical printer and the JSON form), ``check`` (names, arguments, types, units, the
prelude, the budget) and ``ranges`` (the interval analysis).
"""
