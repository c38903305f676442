"""The catalogue of diagnostic codes: every error code and lint code clrdsl raises, with
what it means. ``docs/errors.md`` is generated from it (``python -m clrdsl.diagnostics.codes``), and
``tests/test_catalogues.py`` checks that every code raised anywhere in the source is
here and that the page is up to date. (Parameter kinds have their catalogue in
:data:`clrdsl.contract.functions.KINDS`.)

Ranges: E0xx syntax, E1xx names and arguments, E2xx types, E3xx values and limits of
the language, E5xx plugins and code generation, E6xx backends, E7xx the range test, E8xx trainer integrations, E9xx the command line and
config files;
Wxxx lints.
"""

from __future__ import annotations

ERRORS: dict[str, str] = {
    "E000": "an invalid expression (no more specific diagnosis)",
    "E001": "a string or quote: strings are not part of the language",
    "E002": "unexpected end of input",
    "E003": "a missing `,` between arguments",
    "E004": "an unclosed `(`",
    "E005": "an unmatched `)`",
    "E006": "`=` with nothing after it",
    "E007": "a positional argument after a keyword argument",
    "E008": "a keyword argument given twice",
    "E009": "`:` used to name an argument (write `=`)",
    "E010": "a malformed number (an exponent without digits)",
    "E011": "an unknown unit (the units are `it`, `ep`, `%`)",
    "E012": "an empty schedule, or one that is not text",
    "E013": "the input is longer than 64 KiB",
    "E014": "the expression is nested more than 200 levels deep",
    "E015": "a definition where a single expression is expected",
    "E016": "a parameter declared twice",
    "E017": "a keyword used as a name",
    "E018": "definitions not followed by an expression",
    "E019": "two expressions in a row with no operator between them",
    "E020": "a call with more than 255 arguments",
    "E101": "an unknown name",
    "E102": "an unknown function",
    "E103": "an unknown parameter of a function",
    "E104": "too many positional arguments",
    "E105": "an argument given both by position and by keyword",
    "E106": "a missing argument",
    "E107": "an unknown binding",
    "E108": "an unknown parameter kind in a `def`",
    "E201": "a scale (or another type) where a schedule is expected",
    "E202": "the condition of `if` is not `true` or `false`",
    "E203": "unary `-` applied to something that cannot be negated",
    "E204": "an operator that cannot combine its operands' types",
    "E205": "the left side of `>>` never ends",
    "E206": "a scale modulating a schedule that has no base",
    "E207": "a scale `on=cycle` applied to a schedule without cycles",
    "E208": "an argument of the wrong type",
    "E209": "an argument that is not one of the listed choices",
    "E301": "an argument outside its kind's range (a negative step, a gamma <= 0, ...)",
    "E302": "a number that is not finite",
    "E303": "an argument a function's own validation refuses",
    "E304": "a division by zero",
    "E306": "a unit whose binding (`steps_per_epoch`, `total_steps`) was not given",
    "E307": "definitions expanding inside each other more than 48 levels deep (recursion)",
    "E308": "a binding that is not a positive whole number of updates",
    "E309": "the expression expands past the checker's budget (expansions, nodes, phases, nesting)",
    "E310": "a schedule that can leave the finite floats (a divisor reaching 0, log or a power outside "
            "its domain, an overflow), found by the range analysis",
    "E501": "a plugin name claimed by more than one distribution",
    "E502": "a plugin that failed to load",
    "E503": "a backend that is not installed",
    "E504": "a backend whose framework is not installed",
    "E505": "a plugin object that does not meet the contract (not a Shape/ScaleFn/backend)",
    "E507": "a plugin hook (validate, length, base, value, compile, ...) that raised or returned "
            "something ill-typed",
    "E510": "a function or class that cannot be copied into generated code",
    "E511": "an argument value that cannot be written into generated code",
    "E512": "a name clash in generated code",
    "E513": "a model node the generator does not know (a bug)",
    "E514": "generated code that does not compile (a bug)",
    "E601": "torch: no optimizer, not a torch optimizer, or an unknown option",
    "E602": "torch: the optimizer has no such hyperparameter",
    "E603": "torch: no such parameter group, or a group given two schedules",
    "E604": "torch: a beta schedule leaves [0, 1)",
    "E605": "torch: the checkpoint was written for other expressions or bindings",
    "E606": "torch: not a clrdsl scheduler state",
    "E607": "torch: a step that is not a whole number in [0, 2^62)",
    "E608": "torch: a value to write that is not finite (nothing is written)",
    "E609": "torch: the scheduler put inside torch's SequentialLR or ChainedScheduler (the hint "
            "spells the expression)",
    "E610": "keras: an option the keras backend does not take",
    "E611": "keras: the callback cannot set this optimizer's learning rate",
    "E612": "keras: the optimizer has no momentum to schedule",
    "E613": "keras: momentum asked for with a compiled train step",
    "E614": "keras: a Schedule config that is not a clrdsl one (from_config changes nothing)",
    "E620": "numpy: an option the numpy backend does not take",
    "E621": "jax: a duration or boundary beyond the largest integer step (enable x64)",
    "E622": "jax: an option the jax backend does not take",
    "E630": "a step beyond what the backend can count (2^63, or 2^31 on JAX without x64)",
    "E631": "a step that is not a whole number",
    "E632": "two names for one hyperparameter in a mapping (`lr` and `learning_rate`)",
    "E640": "plateau: a saved plateau state that does not fit the schedule",
    "E641": "plateau: a reported metric that is not a number, or a report at a negative step",
    "E642": "plateau: a metrics file that cannot be read (`--metrics run.csv`: columns `step` and the metric)",
    "E643": "plateau: metrics given for a schedule without a plateau clock",
    "E644": "plateau: a plateau clock where nothing can take a reported metric (a standalone module written by "
            "`clrdsl compile`, the Keras per-batch ScheduleCallback)",
    "E645": "torch: report(metric) (or Lightning's monitor=) on a scheduler whose schedules have no plateau clock",
    "E646": "torch: a scheduler with plateau clocks given to Lightning without monitor=, or as LightningCLI's "
            "lr_scheduler (nothing would report)",
    "E647": "torch: a metric passed to step() (step counts updates; report(metric) takes metrics), or "
            "MetricReport.step() without one",
    "E650": "keras: PlateauCallback on a model whose optimizer's learning rate is not a clrdsl schedule with "
            "a plateau clock",
    "E651": "keras: Schedule.report(metric) with no step, before any optimizer has used the schedule",
    "E655": "jax: a schedule with plateau clocks called with a step alone (as a learning-rate schedule); "
            "its optax transformation takes the metric",
    "E656": "jax: a plateau transformation's update without `value=` (the metric, or None for no report)",
    "E657": "jax: an invalid accumulation_size for the plateau transformation",
    "E701": "range test: an unknown suggestion rule",
    "E702": "range test: an invalid window of the curve",
    "E703": "range test: too few points to suggest bounds",
    "E704": "range test: the `paper` rule without a recorded metric",
    "E705": "range test: the loss (or metric) never improved",
    "E706": "range test: fewer than 5 steps",
    "E707": "range test: an unknown policy",
    "E708": "range test: a model of no backend with the range-test capability",
    "E709": "range test: data that yields no batches",
    "E801": "HF Trainer: lr_scheduler_kwargs with another key beside `clrdsl`, or not a schedule",
    "E802": "HF Trainer: a warmup set in TrainingArguments beside a clrdsl schedule (write it in the schedule)",
    "E803": "HF Trainer: a plateau clock without evaluations to report, or without the metric it follows",
    "E900": "the command line: an internal error, reported as one line instead of a traceback",
    "E901": "a config file that does not parse (file, line and column) or is not UTF-8",
    "E902": "a config file past the reading bounds (size, depth, values, aliases)",
    "E903": "a config interpolation that cannot be resolved",
}

LINTS: dict[str, str] = {
    "W001": "the amplitude of a cyclic schedule falls below 1% of its base",
    "W002": "a phase runs past total_steps",
    "W003": "a warmup that decreases",
    "W004": "a value <= 0 at a step an update uses",
    "W005": "a cyclic schedule ends mid-cycle",
    "W006": "the schedule ends before total_steps",
    "W007": "a plateau clock in a phase too short for its patience to ever reduce",
}


def kinds_markdown() -> str:
    """The table of parameter kinds in docs/language.md (from clrdsl.contract.functions.KINDS)."""
    from clrdsl.contract.functions import KINDS

    rows = [f"| `{k}` | {v} |" for k, v in KINDS.items()]
    return "\n".join([KINDS_BEGIN, "| kind | what it takes |", "|---|---|", *rows, KINDS_END])


KINDS_BEGIN = "<!-- kinds: generated from clrdsl.contract.functions.KINDS by clrdsl.diagnostics.codes.kinds_markdown() -->"
KINDS_END = "<!-- /kinds -->"


def markdown() -> str:
    """The page ``docs/errors.md``."""
    lines = [
        "# Diagnostic codes",
        "",
        "<!-- generated by `python -m clrdsl.diagnostics.codes > docs/errors.md`: edit clrdsl/diagnostics/codes.py -->",
        "",
        "Every error is a `ClrdslError` with one of these codes, a span (a caret under the",
        "text it is about), what was expected and what was found; lints are warnings that",
        "`--strict` turns into errors. E0xx syntax, E1xx names and arguments, E2xx types,",
        "E3xx values and limits, E5xx plugins and code generation, E6xx backends, E7xx the",
        "range test, E8xx trainer integrations, E9xx the command line and config files.",
        "",
        "| code | meaning |",
        "|---|---|",
        *(f"| {c} | {m} |" for c, m in ERRORS.items()),
        "",
        "## Lints",
        "",
        "| code | meaning |",
        "|---|---|",
        *(f"| {c} | {m} |" for c, m in LINTS.items()),
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(markdown(), end="")
